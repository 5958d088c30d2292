using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Polly.Distributed.CircuitBreaker.Telemetry;

/// <summary>
/// Records the store requests of one breaker: how long each took until it answered or failed
/// (<see cref="DistributedCircuitBreakerMeter.StoreDurationInstrument"/>), and each failure by kind
/// (<see cref="DistributedCircuitBreakerMeter.StoreFailuresInstrument"/>), tagged with the store's type and the operation.
/// </summary>
/// <remarks>
/// A request is measured from the moment the breaker makes it until the breaker has its answer or stops waiting for it: a
/// request that outlives its time budget is recorded once, as a timeout, when the breaker gives up on it. A request its
/// caller cancelled is not recorded. When no listener is enabled, <see cref="Start"/> reads no clock and the other methods
/// return at once: the metrics cost a store that answers from memory nothing.
/// </remarks>
internal sealed class CircuitStoreMetrics
{
    /// <summary>The start of a request that is not measured: no listener was enabled when it started.</summary>
    public const long NotMeasured = 0;

    private static readonly Histogram<double> Duration = DistributedCircuitBreakerMeter.Meter.CreateHistogram<double>(
        DistributedCircuitBreakerMeter.StoreDurationInstrument,
        unit: "ms",
        description: "How long a store request took until it answered, failed, or the breaker stopped waiting for it.");

    private static readonly Counter<long> Failures = DistributedCircuitBreakerMeter.Meter.CreateCounter<long>(
        DistributedCircuitBreakerMeter.StoreFailuresInstrument,
        unit: "{failure}",
        description: "Store requests that failed, by kind, and reads that returned a malformed item.");

    private readonly KeyValuePair<string, object?> _storeTag;
    private readonly TimeProvider _timeProvider;

    public CircuitStoreMetrics(ICircuitStateStore store, TimeProvider timeProvider)
    {
        _storeTag = new(DistributedCircuitBreakerMeter.StoreTypeTag, store.GetType().Name);
        _timeProvider = timeProvider;
    }

    /// <summary>Gets a value indicating whether any listener records store requests.</summary>
    public static bool Enabled => Duration.Enabled || Failures.Enabled;

    /// <summary>Marks the start of a store request: its timestamp, or <see cref="NotMeasured"/> when nobody listens.</summary>
    public long Start() => Enabled ? _timeProvider.GetTimestamp() : NotMeasured;

    /// <summary>Makes a store request, recording it as failed if the store throws before it returns a pending answer.</summary>
    public ValueTask<T> Invoke<T>(CircuitStateStoreOperation operation, long started, Func<CancellationToken, ValueTask<T>> request, CancellationToken cancellationToken)
    {
        try
        {
            return request(cancellationToken);
        }
        catch (Exception ex)
        {
            Failed(operation, started, ex, cancellationToken);
            throw;
        }
    }

    /// <summary>
    /// Records the request when <paramref name="pending"/> ends. An answer already there is recorded at once and handed back
    /// without allocating; otherwise the returned task ends as <paramref name="pending"/> does, once it is recorded.
    /// </summary>
    public ValueTask<T> Observe<T>(CircuitStateStoreOperation operation, long started, ValueTask<T> pending, CancellationToken callerToken)
    {
        if (started == NotMeasured)
        {
            return pending;
        }

        if (pending.IsCompletedSuccessfully)
        {
            var result = pending.Result;
            Answered(operation, started, result);
            return new(result);
        }

        if (pending.IsCompleted)
        {
            var task = pending.AsTask();
            Failed(operation, started, task.Exception?.InnerException ?? new OperationCanceledException(), callerToken);
            return new(task);
        }

        return new(ObserveAsync(operation, started, pending, callerToken));
    }

    /// <summary>Records a request that failed; one its caller cancelled is not recorded.</summary>
    public void Failed(CircuitStateStoreOperation operation, long started, Exception exception, CancellationToken callerToken)
    {
        if (started == NotMeasured || (exception is OperationCanceledException && callerToken.IsCancellationRequested))
        {
            return;
        }

        Record(operation, started, ErrorType(exception));
    }

    /// <summary>
    /// Names the kind of a store failure as the <c>error.type</c> tag does: <c>timeout</c>, <c>throttled</c>,
    /// <c>unreachable</c> or <c>other</c>. The breaker's own time budget running out, and a request cancelled for it, are
    /// timeouts.
    /// </summary>
    public static string ErrorType(Exception exception) => exception switch
    {
        CircuitStateStoreException { Kind: CircuitStateStoreFailureKind.Timeout } => "timeout",
        CircuitStateStoreException { Kind: CircuitStateStoreFailureKind.Throttled } => "throttled",
        CircuitStateStoreException { Kind: CircuitStateStoreFailureKind.Unreachable } => "unreachable",
        CircuitStateStoreException => "other",
        TimeoutException or OperationCanceledException => "timeout",
        _ => "other",
    };

    /// <summary>Names an operation as the <c>store.operation</c> tag does.</summary>
    public static string OperationName(CircuitStateStoreOperation operation) => operation switch
    {
        CircuitStateStoreOperation.Read => "read",
        CircuitStateStoreOperation.Write => "write",
        CircuitStateStoreOperation.Replace => "replace",
        CircuitStateStoreOperation.ClaimProbe => "claim_probe",
        CircuitStateStoreOperation.CountFailure => "count_failure",
        _ => "other",
    };

    private async Task<T> ObserveAsync<T>(CircuitStateStoreOperation operation, long started, ValueTask<T> pending, CancellationToken callerToken)
    {
        T result;
        try
        {
            result = await pending.ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Failed(operation, started, ex, callerToken);
            throw;
        }

        Answered(operation, started, result);
        return result;
    }

    private void Answered<T>(CircuitStateStoreOperation operation, long started, T result) =>
        Record(operation, started, result is StoredCircuit { MalformedReason: not null } ? "malformed" : null);

    private void Record(CircuitStateStoreOperation operation, long started, string? errorType)
    {
        var tags = new TagList
        {
            _storeTag,
            new(DistributedCircuitBreakerMeter.StoreOperationTag, OperationName(operation)),
        };

        if (errorType is not null)
        {
            tags.Add(DistributedCircuitBreakerMeter.ErrorTypeTag, errorType);
            Failures.Add(1, tags);
        }

        Duration.Record(_timeProvider.GetElapsedTime(started).TotalMilliseconds, tags);
    }
}
