using Polly.Distributed.CircuitBreaker;

namespace Polly.Distributed.Benchmarks;

/// <summary>
/// One execution environment's store instance over the simulated item: the process cache is kept per store instance, so
/// each environment has a cache and a last known state of its own, as a process of its own would.
/// </summary>
internal sealed class SimulatedEnvironmentStore(SimulatedCircuitItem item, int environment) : ICircuitStateStore
{
    public ValueTask<StoredCircuit> ReadAsync(string circuitId, CancellationToken cancellationToken) => item.ReadAsync(environment, circuitId);

    public ValueTask<bool> WriteAsync(string circuitId, CircuitSnapshot snapshot, CancellationToken cancellationToken) =>
        item.WriteAsync(environment, circuitId, snapshot);

    public ValueTask<CircuitWriteResult> TryReplaceAsync(string circuitId, StoredCircuit expected, CircuitSnapshot replacement, CancellationToken cancellationToken) =>
        item.TryReplaceAsync(environment, circuitId, expected, replacement);

    public ValueTask<CircuitWriteResult> TryClaimProbeAsync(string circuitId, string owner, long leaseExpiresUnixMs, long nowUnixMs, CancellationToken cancellationToken) =>
        item.TryClaimProbeAsync(environment, circuitId, owner, leaseExpiresUnixMs, nowUnixMs);

    public ValueTask<CircuitIncrementResult> TryIncrementFailureAsync(string circuitId, CircuitFailureIncrement increment, CancellationToken cancellationToken) =>
        item.TryIncrementFailureAsync(environment, circuitId, increment);
}
