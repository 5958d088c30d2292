using Polly.Distributed.CircuitBreaker.Controller;

namespace Polly.Distributed.CircuitBreaker;

/// <summary>
/// Isolates or closes a shared circuit for the whole fleet. Attach it through
/// <see cref="DistributedCircuitBreakerStrategyOptions{TResult}.ManualControl"/>.
/// </summary>
/// <remarks>
/// Unlike the breaker itself, manual control does not fail open: a store error is thrown to the caller.
/// An isolated circuit rejects calls with <see cref="Polly.CircuitBreaker.IsolatedCircuitException"/> in every process until it is closed.
/// </remarks>
public sealed class DistributedCircuitBreakerManualControl
{
    private readonly object _gate = new();
    private readonly List<Func<bool, CancellationToken, Task>> _circuits = [];

    /// <summary>Isolates every attached circuit: each stays open, fleet-wide, until <see cref="CloseAsync"/>.</summary>
    /// <param name="cancellationToken">Cancels the store calls.</param>
    /// <returns>A task that completes when the state is stored.</returns>
    /// <exception cref="InvalidOperationException">No breaker uses this control yet.</exception>
    public Task IsolateAsync(CancellationToken cancellationToken = default) => ApplyAsync(isolate: true, cancellationToken);

    /// <summary>Closes every attached circuit fleet-wide, resetting its counts.</summary>
    /// <param name="cancellationToken">Cancels the store calls.</param>
    /// <returns>A task that completes when the state is stored.</returns>
    /// <exception cref="InvalidOperationException">No breaker uses this control yet.</exception>
    public Task CloseAsync(CancellationToken cancellationToken = default) => ApplyAsync(isolate: false, cancellationToken);

    internal void Attach<TResult>(DistributedCircuitController<TResult> controller)
    {
        lock (_gate)
        {
            _circuits.Add((isolate, ct) => isolate ? controller.IsolateAsync(ct) : controller.CloseAsync(ct));
        }
    }

    private async Task ApplyAsync(bool isolate, CancellationToken cancellationToken)
    {
        Func<bool, CancellationToken, Task>[] circuits;
        lock (_gate)
        {
            circuits = [.. _circuits];
        }

        if (circuits.Length == 0)
        {
            throw new InvalidOperationException("No distributed circuit breaker uses this manual control: build a pipeline with it first.");
        }

        foreach (var circuit in circuits)
        {
            await circuit(isolate, cancellationToken).ConfigureAwait(false);
        }
    }
}
