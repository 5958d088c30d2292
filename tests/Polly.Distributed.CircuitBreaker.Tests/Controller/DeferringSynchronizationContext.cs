using System.Collections.Concurrent;

namespace Polly.Distributed.CircuitBreaker.Tests.Controller;

/// <summary>
/// Holds the continuations posted to it until the test runs them: a call whose context continues on the captured
/// context then stops at its next await, while the store's answers (which continue anywhere) go on meanwhile.
/// </summary>
internal sealed class DeferringSynchronizationContext : SynchronizationContext
{
    private readonly ConcurrentQueue<(SendOrPostCallback Callback, object? State)> _posted = new();

    /// <summary>Gets how many continuations wait to run.</summary>
    public int Pending => _posted.Count;

    public override void Post(SendOrPostCallback d, object? state) => _posted.Enqueue((d, state));

    /// <summary>Starts <paramref name="start"/> on this context: its continuations are posted here.</summary>
    public T Start<T>(Func<T> start)
    {
        var previous = Current;
        SetSynchronizationContext(this);
        try
        {
            return start();
        }
        finally
        {
            SetSynchronizationContext(previous);
        }
    }

    /// <summary>Runs the continuations posted so far, and those they post, on this context.</summary>
    public void RunPending()
    {
        while (_posted.TryDequeue(out var posted))
        {
            Start(() =>
            {
                posted.Callback(posted.State);
                return true;
            });
        }
    }
}
