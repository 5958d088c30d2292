using System.Diagnostics;
using Polly.Distributed.CircuitBreaker;

namespace Polly.Distributed.Benchmarks;

/// <summary>
/// Forwards every request to a store and records how long each took, so that a failing call's added latency can be read
/// against the store's own round trip under the same contention.
/// </summary>
internal sealed class TimedStore(ICircuitStateStore inner, List<double> durationsMs) : ICircuitStateStore
{
    public ValueTask<StoredCircuit> ReadAsync(string circuitId, CancellationToken cancellationToken) =>
        TimeAsync(inner.ReadAsync(circuitId, cancellationToken));

    public ValueTask<bool> WriteAsync(string circuitId, CircuitSnapshot snapshot, CancellationToken cancellationToken) =>
        TimeAsync(inner.WriteAsync(circuitId, snapshot, cancellationToken));

    public ValueTask<CircuitWriteResult> TryReplaceAsync(string circuitId, StoredCircuit expected, CircuitSnapshot replacement, CancellationToken cancellationToken) =>
        TimeAsync(inner.TryReplaceAsync(circuitId, expected, replacement, cancellationToken));

    public ValueTask<CircuitWriteResult> TryClaimProbeAsync(string circuitId, string owner, long leaseExpiresUnixMs, long nowUnixMs, CancellationToken cancellationToken) =>
        TimeAsync(inner.TryClaimProbeAsync(circuitId, owner, leaseExpiresUnixMs, nowUnixMs, cancellationToken));

    public ValueTask<CircuitIncrementResult> TryIncrementFailureAsync(string circuitId, CircuitFailureIncrement increment, CancellationToken cancellationToken) =>
        TimeAsync(inner.TryIncrementFailureAsync(circuitId, increment, cancellationToken));

    private async ValueTask<T> TimeAsync<T>(ValueTask<T> pending)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            return await pending;
        }
        finally
        {
            lock (durationsMs)
            {
                durationsMs.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }
        }
    }
}
