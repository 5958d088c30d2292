using System.Diagnostics;
using Polly.Distributed.CircuitBreaker;

namespace Polly.Distributed.Benchmarks;

/// <summary>
/// Forwards every request to a store and records how long each took, so that a failing call's added latency can be read
/// against the store's own round trip under the same contention.
/// </summary>
/// <param name="inner">The store forwarded to.</param>
/// <param name="record">Called once per request when it is over, with its operation, its start (a <see cref="Stopwatch"/> timestamp) and its duration in ms.</param>
internal sealed class TimedStore(ICircuitStateStore inner, Action<CircuitStateStoreOperation, long, double> record) : ICircuitStateStore
{
    /// <summary>Initializes a new instance of the <see cref="TimedStore"/> class that adds every request's duration to <paramref name="durationsMs"/>.</summary>
    /// <param name="inner">The store forwarded to.</param>
    /// <param name="durationsMs">Where each request's duration in ms is added.</param>
    public TimedStore(ICircuitStateStore inner, List<double> durationsMs)
        : this(inner, (_, _, durationMs) =>
        {
            lock (durationsMs)
            {
                durationsMs.Add(durationMs);
            }
        })
    {
    }

    public ValueTask<StoredCircuit> ReadAsync(string circuitId, CancellationToken cancellationToken) =>
        TimeAsync(CircuitStateStoreOperation.Read, inner.ReadAsync(circuitId, cancellationToken));

    public ValueTask<bool> WriteAsync(string circuitId, CircuitSnapshot snapshot, CancellationToken cancellationToken) =>
        TimeAsync(CircuitStateStoreOperation.Write, inner.WriteAsync(circuitId, snapshot, cancellationToken));

    public ValueTask<CircuitWriteResult> TryReplaceAsync(string circuitId, StoredCircuit expected, CircuitSnapshot replacement, CancellationToken cancellationToken) =>
        TimeAsync(CircuitStateStoreOperation.Replace, inner.TryReplaceAsync(circuitId, expected, replacement, cancellationToken));

    public ValueTask<CircuitWriteResult> TryClaimProbeAsync(string circuitId, string owner, long leaseExpiresUnixMs, long nowUnixMs, CancellationToken cancellationToken) =>
        TimeAsync(CircuitStateStoreOperation.ClaimProbe, inner.TryClaimProbeAsync(circuitId, owner, leaseExpiresUnixMs, nowUnixMs, cancellationToken));

    public ValueTask<CircuitIncrementResult> TryIncrementFailureAsync(string circuitId, CircuitFailureIncrement increment, CancellationToken cancellationToken) =>
        TimeAsync(CircuitStateStoreOperation.CountFailure, inner.TryIncrementFailureAsync(circuitId, increment, cancellationToken));

    private async ValueTask<T> TimeAsync<T>(CircuitStateStoreOperation operation, ValueTask<T> pending)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            return await pending;
        }
        finally
        {
            record(operation, started, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
    }
}
