using Polly.Distributed.CircuitBreaker;

namespace Polly.Distributed.CircuitBreaker.TestKit;

/// <summary>A store that can be made to throw or to hang, in front of a working one.</summary>
public sealed class FaultyCircuitStateStore(ICircuitStateStore inner) : ICircuitStateStore
{
    /// <summary>What the store does with a request.</summary>
    public enum Fault
    {
        None,
        Throw,
        Hang,
    }

    public Fault Mode { get; set; }

    public ValueTask<StoredCircuit> ReadAsync(string circuitId, CancellationToken cancellationToken) =>
        Mode switch
        {
            Fault.Throw => throw new InvalidOperationException("store is down"),
            Fault.Hang => new(HangAsync<StoredCircuit>()),
            _ => inner.ReadAsync(circuitId, cancellationToken),
        };

    public ValueTask<bool> WriteAsync(string circuitId, CircuitSnapshot snapshot, CancellationToken cancellationToken) =>
        Mode switch
        {
            Fault.Throw => throw new InvalidOperationException("store is down"),
            Fault.Hang => new(HangAsync<bool>()),
            _ => inner.WriteAsync(circuitId, snapshot, cancellationToken),
        };

    public ValueTask<CircuitWriteResult> TryReplaceAsync(string circuitId, StoredCircuit expected, CircuitSnapshot replacement, CancellationToken cancellationToken) =>
        Mode == Fault.None ? inner.TryReplaceAsync(circuitId, expected, replacement, cancellationToken) : throw new InvalidOperationException("store is down");

    public ValueTask<CircuitWriteResult> TryClaimProbeAsync(string circuitId, string owner, long leaseExpiresUnixMs, long nowUnixMs, CancellationToken cancellationToken) =>
        Mode == Fault.None ? inner.TryClaimProbeAsync(circuitId, owner, leaseExpiresUnixMs, nowUnixMs, cancellationToken) : throw new InvalidOperationException("store is down");

    public ValueTask<CircuitIncrementResult> TryIncrementFailureAsync(string circuitId, CircuitFailureIncrement increment, CancellationToken cancellationToken) =>
        Mode == Fault.None ? inner.TryIncrementFailureAsync(circuitId, increment, cancellationToken) : throw new InvalidOperationException("store is down");

    // Ignores cancellation on purpose: the breaker must bound the call by itself.
    private static async Task<T> HangAsync<T>()
    {
        await Task.Delay(System.Threading.Timeout.InfiniteTimeSpan, CancellationToken.None);
        return default!;
    }
}
