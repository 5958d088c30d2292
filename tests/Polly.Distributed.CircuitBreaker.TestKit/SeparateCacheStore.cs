namespace Polly.Distributed.CircuitBreaker.TestKit;

/// <summary>
/// A store instance of its own over a shared one, as another process has: the breakers that use it share the state but
/// get a cache (and a last known state) of their own, since the process cache is kept per store instance.
/// </summary>
public sealed class SeparateCacheStore(ICircuitStateStore shared) : ICircuitStateStore
{
    public ValueTask<StoredCircuit> ReadAsync(string circuitId, CancellationToken cancellationToken) => shared.ReadAsync(circuitId, cancellationToken);

    public ValueTask<bool> WriteAsync(string circuitId, CircuitSnapshot snapshot, CancellationToken cancellationToken) => shared.WriteAsync(circuitId, snapshot, cancellationToken);

    public ValueTask<CircuitWriteResult> TryReplaceAsync(string circuitId, StoredCircuit expected, CircuitSnapshot replacement, CancellationToken cancellationToken) =>
        shared.TryReplaceAsync(circuitId, expected, replacement, cancellationToken);

    public ValueTask<CircuitWriteResult> TryClaimProbeAsync(string circuitId, string owner, long leaseExpiresUnixMs, long nowUnixMs, CancellationToken cancellationToken) =>
        shared.TryClaimProbeAsync(circuitId, owner, leaseExpiresUnixMs, nowUnixMs, cancellationToken);

    public ValueTask<CircuitIncrementResult> TryIncrementFailureAsync(string circuitId, CircuitFailureIncrement increment, CancellationToken cancellationToken) =>
        shared.TryIncrementFailureAsync(circuitId, increment, cancellationToken);
}
