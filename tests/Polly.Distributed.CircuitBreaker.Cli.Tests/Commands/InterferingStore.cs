namespace Polly.Distributed.CircuitBreaker.Cli.Tests.Commands;

/// <summary>
/// A real store where another writer gets in between a read and the compare-and-set that follows it: before the first
/// <see cref="TryReplaceAsync"/>, it runs <paramref name="interfere"/> against the same store.
/// </summary>
internal sealed class InterferingStore(ICircuitStateStore inner, Func<ICircuitStateStore, Task> interfere) : ICircuitStateStore
{
    private int _replaces;

    public int Replaces => _replaces;

    public ValueTask<StoredCircuit> ReadAsync(string circuitId, CancellationToken cancellationToken) => inner.ReadAsync(circuitId, cancellationToken);

    public ValueTask<bool> WriteAsync(string circuitId, CircuitSnapshot snapshot, CancellationToken cancellationToken) =>
        inner.WriteAsync(circuitId, snapshot, cancellationToken);

    public async ValueTask<CircuitWriteResult> TryReplaceAsync(string circuitId, StoredCircuit expected, CircuitSnapshot replacement, CancellationToken cancellationToken)
    {
        if (Interlocked.Increment(ref _replaces) == 1)
        {
            await interfere(inner);
        }

        return await inner.TryReplaceAsync(circuitId, expected, replacement, cancellationToken);
    }

    public ValueTask<CircuitWriteResult> TryClaimProbeAsync(string circuitId, string owner, long leaseExpiresUnixMs, long nowUnixMs, CancellationToken cancellationToken) =>
        inner.TryClaimProbeAsync(circuitId, owner, leaseExpiresUnixMs, nowUnixMs, cancellationToken);

    public ValueTask<CircuitIncrementResult> TryIncrementFailureAsync(string circuitId, CircuitFailureIncrement increment, CancellationToken cancellationToken) =>
        inner.TryIncrementFailureAsync(circuitId, increment, cancellationToken);
}
