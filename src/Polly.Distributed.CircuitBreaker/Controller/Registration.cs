namespace Polly.Distributed.CircuitBreaker.Controller;

/// <summary>Runs its release action once, on the first <see cref="Dispose"/>.</summary>
internal sealed class Registration(Action release) : IDisposable
{
    private Action? _release = release;

    public void Dispose() => Interlocked.Exchange(ref _release, null)?.Invoke();
}
