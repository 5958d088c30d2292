using Polly.Distributed.CircuitBreaker.Controller;
using Polly.Distributed.CircuitBreaker.State;

namespace Polly.Distributed.CircuitBreaker;

/// <summary>
/// Isolates or closes a shared circuit for the whole fleet. Attach it through
/// <see cref="DistributedCircuitBreakerStrategyOptions{TResult}.ManualControl"/>.
/// </summary>
/// <remarks>
/// Unlike the breaker itself, manual control does not fail open: a store error is thrown to the caller.
/// Like Polly's own manual control, it remembers an isolation made before any breaker was attached (HttpClient pipelines
/// are built on first use): a breaker attached while it is isolated rejects calls at once and isolates its circuit in the
/// store, until <see cref="CloseAsync"/>.
/// An isolated circuit rejects calls with <see cref="Polly.CircuitBreaker.IsolatedCircuitException"/> in every process until it is closed.
/// </remarks>
public sealed class DistributedCircuitBreakerManualControl
{
    private readonly object _gate = new();
    private readonly Dictionary<string, Func<bool, CancellationToken, Task>> _declared = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Func<bool, CancellationToken, Task>> _attached = new(StringComparer.Ordinal);
    private bool _isolated;

    /// <summary>Initializes a new instance of the <see cref="DistributedCircuitBreakerManualControl"/> class that covers the circuits of the breakers it is attached to.</summary>
    public DistributedCircuitBreakerManualControl()
    {
    }

    /// <summary>
    /// Initializes a new instance of the <see cref="DistributedCircuitBreakerManualControl"/> class that covers the given circuits
    /// from the start, before any pipeline is built (HttpClient pipelines are built on first use), as well as the circuits of
    /// the breakers it is attached to later.
    /// </summary>
    /// <param name="store">The store that holds the circuits.</param>
    /// <param name="circuitIds">The circuit ids.</param>
    /// <param name="timeProvider">The clock for the state timestamps; the system clock when <see langword="null"/>.</param>
    public DistributedCircuitBreakerManualControl(ICircuitStateStore store, IEnumerable<string> circuitIds, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(circuitIds);

        var clock = timeProvider ?? TimeProvider.System;
        foreach (var circuitId in circuitIds)
        {
            if (CircuitIdRules.GetProblem(circuitId) is { } problem)
            {
                throw new ArgumentException(problem, nameof(circuitIds));
            }

            _declared[circuitId] = (isolate, ct) => ManualCircuitChange.ApplyAsync(
                async token => await store.ReadAsync(circuitId, token).ConfigureAwait(false),
                async (expected, next, token) => (await store.TryReplaceAsync(circuitId, expected, next, token).ConfigureAwait(false)).Succeeded,
                isolate ? CircuitStateMachine.Isolate : CircuitStateMachine.Close,
                () => clock.GetUtcNow().ToUnixTimeMilliseconds(),
                ct);
        }
    }

    /// <summary>
    /// Isolates every attached circuit, and every circuit of a breaker attached later: each stays open, fleet-wide, until
    /// <see cref="CloseAsync"/>.
    /// </summary>
    /// <param name="cancellationToken">Cancels the store calls.</param>
    /// <returns>A task that completes when the state of the circuits covered now is stored.</returns>
    public Task IsolateAsync(CancellationToken cancellationToken = default) => ApplyAsync(isolate: true, cancellationToken);

    /// <summary>Closes every attached circuit fleet-wide, resetting its counts, and ends an isolation remembered for breakers attached later.</summary>
    /// <param name="cancellationToken">Cancels the store calls.</param>
    /// <returns>A task that completes when the state of the circuits covered now is stored.</returns>
    public Task CloseAsync(CancellationToken cancellationToken = default) => ApplyAsync(isolate: false, cancellationToken);

    /// <summary>
    /// Lets the breaker's own controller apply the changes (it raises the events). A later pipeline for the same circuit takes
    /// the place of the old one; disposing the returned registration (the pipeline was disposed or reloaded) lets go of it.
    /// </summary>
    internal IDisposable Attach<TResult>(DistributedCircuitController<TResult> controller)
    {
        var circuitId = controller.CircuitId;
        Func<bool, CancellationToken, Task> apply = (isolate, ct) => isolate ? controller.IsolateAsync(ct) : controller.CloseAsync(ct);
        bool isolated;
        lock (_gate)
        {
            _attached[circuitId] = apply;
            isolated = _isolated;
        }

        if (isolated)
        {
            controller.IsolateOnAttach();
        }

        return new Registration(() =>
        {
            lock (_gate)
            {
                if (_attached.TryGetValue(circuitId, out var current) && current == apply)
                {
                    _attached.Remove(circuitId);
                }
            }
        });
    }

    internal int AttachedCount
    {
        get
        {
            lock (_gate)
            {
                return _attached.Count;
            }
        }
    }

    private async Task ApplyAsync(bool isolate, CancellationToken cancellationToken)
    {
        Func<bool, CancellationToken, Task>[] circuits;
        lock (_gate)
        {
            _isolated = isolate;
            circuits = [.. _attached.Values, .. _declared.Where(d => !_attached.ContainsKey(d.Key)).Select(d => d.Value)];
        }

        foreach (var circuit in circuits)
        {
            await circuit(isolate, cancellationToken).ConfigureAwait(false);
        }
    }
}
