using System.Collections.Concurrent;
using System.Diagnostics;

namespace Polly.Distributed.CircuitBreaker.Redis.Tests;

/// <summary>
/// Passes every request to an inner store and records what came back: per circuit, the failure counts the store answered
/// as counted and those left in doubt (the request failed, so it may or may not have been applied), and when requests
/// failed or were answered.
/// </summary>
internal sealed class RecordingCircuitStateStore(ICircuitStateStore inner) : ICircuitStateStore
{
    private readonly ConcurrentQueue<(string CircuitId, long Timestamp, long Failures)> _counted = new();
    private readonly ConcurrentDictionary<string, int> _inDoubt = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<long> _failureTimestamps = new();
    private readonly ConcurrentQueue<long> _answerTimestamps = new();
    private int _pending;

    /// <summary>Gets the <see cref="Stopwatch"/> timestamps of the requests that failed.</summary>
    public IReadOnlyCollection<long> FailureTimestamps => _failureTimestamps;

    /// <summary>Gets the <see cref="Stopwatch"/> timestamps of the requests that were answered.</summary>
    public IReadOnlyCollection<long> AnswerTimestamps => _answerTimestamps;

    /// <summary>Returns how many failures the store answered as counted (a count may carry several).</summary>
    public int Counted(string circuitId) => (int)_counted.Where(count => count.CircuitId == circuitId).Sum(count => count.Failures);

    /// <summary>Returns how many failure counts of the circuit were answered as counted at or after a <see cref="Stopwatch"/> timestamp.</summary>
    public int CountedSince(string circuitId, long timestamp) =>
        (int)_counted.Where(count => count.CircuitId == circuitId && count.Timestamp >= timestamp).Sum(count => count.Failures);

    public int InDoubt(string circuitId) => _inDoubt.GetValueOrDefault(circuitId);

    /// <summary>Waits until no request is in flight, so every answer is recorded.</summary>
    public async Task DrainAsync(TimeSpan timeout)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (Volatile.Read(ref _pending) > 0)
        {
            if (Stopwatch.GetTimestamp() > deadline)
            {
                throw new TimeoutException($"{Volatile.Read(ref _pending)} store requests were still in flight after {timeout}.");
            }

            await Task.Delay(20);
        }
    }

    public ValueTask<StoredCircuit> ReadAsync(string circuitId, CancellationToken cancellationToken) =>
        TrackAsync(() => inner.ReadAsync(circuitId, cancellationToken));

    public ValueTask<bool> WriteAsync(string circuitId, CircuitSnapshot snapshot, CancellationToken cancellationToken) =>
        TrackAsync(() => inner.WriteAsync(circuitId, snapshot, cancellationToken));

    public ValueTask<CircuitWriteResult> TryReplaceAsync(string circuitId, StoredCircuit expected, CircuitSnapshot replacement, CancellationToken cancellationToken) =>
        TrackAsync(() => inner.TryReplaceAsync(circuitId, expected, replacement, cancellationToken));

    public ValueTask<CircuitWriteResult> TryClaimProbeAsync(string circuitId, string owner, long leaseExpiresUnixMs, long nowUnixMs, CancellationToken cancellationToken) =>
        TrackAsync(() => inner.TryClaimProbeAsync(circuitId, owner, leaseExpiresUnixMs, nowUnixMs, cancellationToken));

    public async ValueTask<CircuitIncrementResult> TryIncrementFailureAsync(string circuitId, CircuitFailureIncrement increment, CancellationToken cancellationToken)
    {
        try
        {
            var result = await TrackAsync(() => inner.TryIncrementFailureAsync(circuitId, increment, cancellationToken));
            if (result.Outcome != CircuitIncrementOutcome.NotCounted)
            {
                _counted.Enqueue((circuitId, Stopwatch.GetTimestamp(), increment.Count));
            }

            return result;
        }
        catch (Exception)
        {
            _inDoubt.AddOrUpdate(circuitId, (int)increment.Count, (_, count) => count + (int)increment.Count);
            throw;
        }
    }

    private async ValueTask<T> TrackAsync<T>(Func<ValueTask<T>> request)
    {
        Interlocked.Increment(ref _pending);
        try
        {
            var result = await request();
            _answerTimestamps.Enqueue(Stopwatch.GetTimestamp());
            return result;
        }
        catch (Exception)
        {
            _failureTimestamps.Enqueue(Stopwatch.GetTimestamp());
            throw;
        }
        finally
        {
            Interlocked.Decrement(ref _pending);
        }
    }
}
