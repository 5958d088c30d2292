using Microsoft.Extensions.Logging;
using Polly.Distributed.CircuitBreaker.Stores.Caching;
using Polly.Distributed.CircuitBreaker.Telemetry;
using Polly.Telemetry;

namespace Polly.Distributed.CircuitBreaker.Controller;

/// <summary>
/// Every store call a breaker makes during a protected call: bounded by the call's <see cref="StoreBudget"/> and the
/// caller's token, kept in the process-wide cache, and turned into a reported failure (never an exception) when the store
/// cannot answer.
/// </summary>
internal sealed class CircuitStoreGateway
{
    private readonly ICircuitStateStore _store;
    private readonly string _circuitId;
    private readonly TimeProvider _timeProvider;
    private readonly CachedCircuitState _state;
    private readonly long _cacheTtlMs;
    private readonly bool _storeRunsInline;
    private readonly ILogger? _logger;
    private readonly ResilienceStrategyTelemetry _telemetry;
    private readonly Func<OnCircuitStateStoreFailureArguments, ValueTask>? _onStateStoreFailure;
    private readonly Func<CancellationToken, ValueTask<CircuitStateEntry>> _readOperation;
    private readonly Func<long> _nowMs;

    public CircuitStoreGateway(
        ICircuitStateStore store,
        string circuitId,
        TimeSpan storeTimeout,
        TimeSpan cacheTtl,
        TimeProvider timeProvider,
        ILogger? logger,
        ResilienceStrategyTelemetry telemetry,
        Func<OnCircuitStateStoreFailureArguments, ValueTask>? onStateStoreFailure)
    {
        _store = store;
        _circuitId = circuitId;
        StoreTimeout = storeTimeout;
        _cacheTtlMs = (long)cacheTtl.TotalMilliseconds;
        _timeProvider = timeProvider;
        _state = CircuitStateCache.For(store, circuitId);

        // The in-memory store completes synchronously and never blocks: no thread hop, no timer.
        _storeRunsInline = store is InMemoryCircuitStateStore;
        _logger = logger;
        _telemetry = telemetry;
        _onStateStoreFailure = onStateStoreFailure;
        _readOperation = ct => _store.ReadAsync(_circuitId, ct);
        _nowMs = NowMs;
    }

    public TimeSpan StoreTimeout { get; }

    public bool Caches => _cacheTtlMs > 0;

    /// <summary>Gets the last state this process saw for the circuit, however old.</summary>
    public CircuitSnapshot? LastKnown => _state.LastKnown?.Snapshot;

    /// <summary>Gets the last entry this process saw for the circuit, however old.</summary>
    public CircuitStateEntry? LastKnownEntry => _state.LastKnown;

    /// <summary>When this process first saw the probe lease that <paramref name="snapshot"/> holds, if it did.</summary>
    public long? LeaseFirstSeen(CircuitSnapshot snapshot) => _state.LeaseFirstSeen(snapshot);

    /// <summary>Applies a change the store could not record to the last state this process knows.</summary>
    public void UpdateLastKnown(Func<CircuitSnapshot, CircuitSnapshot?> change) => _state.UpdateLocally(change);

    public long NowMs() => _timeProvider.GetUtcNow().ToUnixTimeMilliseconds();

    public StoreBudget StartBudget(TimeSpan allowed, CancellationToken cancellationToken) => new(_timeProvider.GetTimestamp(), allowed, cancellationToken);

    public TimeSpan Remaining(StoreBudget budget) => budget.Remaining(_timeProvider);

    public bool TryGetFresh(long nowMs, out CircuitStateEntry entry) => _state.TryGetFresh(nowMs, _cacheTtlMs, out entry);

    /// <summary>
    /// Reads a store that answers inline (the in-memory store) without any wait or timer; <see langword="false"/> for
    /// every other store, which <see cref="TryReadAsync"/> reads within the call's budget.
    /// </summary>
    public bool TryReadInline(long nowMs, out CircuitStateEntry entry)
    {
        if (_storeRunsInline)
        {
            var generation = _state.Generation;
            var pending = _store.ReadAsync(_circuitId, CancellationToken.None);
            if (pending.IsCompletedSuccessfully)
            {
                entry = pending.Result;
                _state.UpdateFromStore(entry, generation, nowMs);
                return true;
            }
        }

        entry = null!;
        return false;
    }

    /// <summary>Reads the circuit, from the cache when it is fresh (unless <paramref name="bypassCache"/>); <see langword="null"/> when the store failed.</summary>
    public async ValueTask<CircuitStateEntry?> TryReadAsync(ResilienceContext context, StoreBudget budget, bool bypassCache)
    {
        try
        {
            CircuitStateEntry entry;
            if (!Caches || bypassCache)
            {
                var generation = _state.Generation;
                entry = await CallAsync(_readOperation, budget).ConfigureAwait(false);
                _state.UpdateFromStore(entry, generation, NowMs());
            }
            else if (!TryGetFresh(NowMs(), out entry))
            {
                // Concurrent misses share one read; the joined read is bounded by this call's budget all the same.
                var shared = _state.ReadSharedAsync(() => CallAsync(_readOperation, StartBudget(StoreTimeout, CancellationToken.None)).AsTask(), _nowMs);
                entry = await shared.WaitAsync(Remaining(budget), _timeProvider, budget.CancellationToken).ConfigureAwait(false);
            }
            else
            {
                return entry;
            }

            if (entry.MalformedReason is { } reason && _logger is not null)
            {
                DistributedCircuitBreakerLog.MalformedState(_logger, _circuitId, reason);
            }

            return entry;
        }
        catch (Exception ex) when (!IsCallerCancellation(ex, budget))
        {
            await ReportFailureAsync(context, StoreOperation.Read, ex).ConfigureAwait(false);
            return null;
        }
    }

    /// <summary>Writes the state unconditionally; <see langword="false"/> when the store failed.</summary>
    public async ValueTask<bool> TryWriteAsync(ResilienceContext context, StoreBudget budget, CircuitSnapshot next)
    {
        try
        {
            var generation = _state.Generation;
            await CallAsync(
                async ct =>
                {
                    await _store.WriteAsync(_circuitId, next, ct).ConfigureAwait(false);
                    return true;
                },
                budget).ConfigureAwait(false);

            _state.UpdateAfterWrite(new CircuitStateEntry(next, true, null), confirmedByStore: false, generation, NowMs());
            return true;
        }
        catch (Exception ex) when (!IsCallerCancellation(ex, budget))
        {
            await ReportFailureAsync(context, StoreOperation.Write, ex).ConfigureAwait(false);
            return false;
        }
    }

    public ValueTask<CircuitWriteResult?> TryReplaceAsync(ResilienceContext context, StoreBudget budget, CircuitStateEntry expected, CircuitSnapshot next) =>
        TryConditionalAsync(
            context,
            budget,
            StoreOperation.TryReplace,
            ct => _store.TryReplaceAsync(_circuitId, expected, next, ct),
            static result => (result.Succeeded, result.Current));

    public ValueTask<CircuitWriteResult?> TryClaimProbeAsync(ResilienceContext context, StoreBudget budget, string owner, long leaseExpiresUnixMs, long now) =>
        TryConditionalAsync(
            context,
            budget,
            StoreOperation.TryClaimProbe,
            ct => _store.TryClaimProbeAsync(_circuitId, owner, leaseExpiresUnixMs, now, ct),
            static result => (result.Succeeded, result.Current));

    /// <summary>
    /// Counts a failure. A count may land after the call stopped waiting for it (a count is never taken back); when it does,
    /// <paramref name="onLateResult"/> gets the store's answer, so the process that opened the circuit still knows it.
    /// </summary>
    public ValueTask<CircuitIncrementResult?> TryIncrementFailureAsync(
        ResilienceContext context,
        StoreBudget budget,
        CircuitFailureIncrement increment,
        Action<CircuitIncrementResult> onLateResult) =>
        TryConditionalAsync(
            context,
            budget,
            StoreOperation.TryIncrementFailure,
            ct => _store.TryIncrementFailureAsync(_circuitId, increment, ct),
            static result => (result.Outcome != CircuitIncrementOutcome.NotCounted, result.Current),
            result =>
            {
                // Older than anything read since: it may only move a closed last-known state forward, never count as fresh.
                _state.UpdateLocally(last => last.State == SharedCircuitState.Closed ? result.Current.Snapshot : null);
                onLateResult(result);
            });

    /// <summary>Reads the circuit for an operator, past the cache; store errors are thrown.</summary>
    public async Task<CircuitStateEntry> ReadOrThrowAsync(CancellationToken cancellationToken)
    {
        var generation = _state.Generation;
        var entry = await _store.ReadAsync(_circuitId, cancellationToken).ConfigureAwait(false);
        _state.UpdateFromStore(entry, generation, NowMs());
        return entry;
    }

    /// <summary>Replaces the circuit for an operator if it is unchanged since <paramref name="expected"/>; store errors are thrown.</summary>
    public async Task<bool> ReplaceOrThrowAsync(CircuitStateEntry expected, CircuitSnapshot next, CancellationToken cancellationToken)
    {
        var generation = _state.Generation;
        var result = await _store.TryReplaceAsync(_circuitId, expected, next, cancellationToken).ConfigureAwait(false);
        if (result.Succeeded)
        {
            _state.UpdateAfterWrite(result.Current ?? new CircuitStateEntry(next, true, null), confirmedByStore: result.Current is not null, generation, NowMs());
        }

        return result.Succeeded;
    }

    private static bool IsCallerCancellation(Exception exception, StoreBudget budget) =>
        exception is OperationCanceledException && budget.CancellationToken.IsCancellationRequested;

    private async ValueTask<TResult?> TryConditionalAsync<TResult>(
        ResilienceContext context,
        StoreBudget budget,
        string operation,
        Func<CancellationToken, ValueTask<TResult>> write,
        Func<TResult, (bool Wrote, CircuitStateEntry? Current)> describe,
        Action<TResult>? onLateResult = null)
        where TResult : struct
    {
        try
        {
            var generation = _state.Generation;
            var result = await CallAsync(write, budget, onLateResult).ConfigureAwait(false);
            var (wrote, current) = describe(result);
            if (current is not null)
            {
                if (wrote)
                {
                    _state.UpdateAfterWrite(current, confirmedByStore: true, generation, NowMs());
                }
                else
                {
                    _state.UpdateFromStore(current, generation, NowMs());
                }
            }

            return result;
        }
        catch (Exception ex) when (!IsCallerCancellation(ex, budget))
        {
            await ReportFailureAsync(context, operation, ex).ConfigureAwait(false);
            return null;
        }
    }

    /// <summary>
    /// Runs one store call within what is left of <paramref name="budget"/>. Except for the in-memory store, the call
    /// starts on the thread pool, so a client that blocks its calling thread (synchronous credential resolution or connect)
    /// is bounded as well; on timeout its token is cancelled so the abandoned request stops as soon as the client allows.
    /// </summary>
    private async ValueTask<T> CallAsync<T>(Func<CancellationToken, ValueTask<T>> operation, StoreBudget budget, Action<T>? onLateResult = null)
    {
        var callerToken = budget.CancellationToken;
        var remaining = Remaining(budget);
        if (remaining <= TimeSpan.Zero)
        {
            throw new TimeoutException($"The call's store time budget of {StoreTimeout.TotalMilliseconds} ms is spent.");
        }

        if (_storeRunsInline)
        {
            var pending = operation(callerToken);
            if (pending.IsCompleted)
            {
                return pending.Result;
            }

            return await pending.AsTask().WaitAsync(remaining, _timeProvider, callerToken).ConfigureAwait(false);
        }

        return await CallOnThreadPoolAsync(operation, remaining, onLateResult, callerToken).ConfigureAwait(false);
    }

    // Apart from CallAsync, so that the closures below are allocated only for stores that take this path.
    private async Task<T> CallOnThreadPoolAsync<T>(Func<CancellationToken, ValueTask<T>> operation, TimeSpan remaining, Action<T>? onLateResult, CancellationToken callerToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(callerToken);
        var token = timeout.Token;
        var task = Task.Run(() => operation(token).AsTask(), token);
        var answered = false;
        try
        {
            var result = await task.WaitAsync(remaining, _timeProvider, callerToken).ConfigureAwait(false);
            answered = true;
            return result;
        }
        catch (Exception ex) when (ex is TimeoutException || (ex is OperationCanceledException && !callerToken.IsCancellationRequested))
        {
            throw new TimeoutException($"The circuit state store did not answer within {StoreTimeout.TotalMilliseconds} ms, the call's store time budget.", ex);
        }
        finally
        {
            // Whether or not the store call finished since the wait gave up, its result is this call's no longer: a late
            // result goes to onLateResult (a count that opened the circuit still raises OnOpened) and a fault is observed.
            if (!answered)
            {
                await timeout.CancelAsync().ConfigureAwait(false);
                _ = task.ContinueWith(static t => t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
                if (onLateResult is not null)
                {
                    _ = task.ContinueWith(t => onLateResult(t.Result), CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
                }
            }
        }
    }

    private async ValueTask ReportFailureAsync(ResilienceContext context, string operation, Exception exception)
    {
        // One log line per failure: with a logger of its own the breaker writes the detailed line, and Polly's telemetry
        // (which logs events by severity) still counts the event but does not log it again.
        var severity = ResilienceEventSeverity.Warning;
        if (_logger is not null)
        {
            DistributedCircuitBreakerLog.StoreFailed(_logger, _circuitId, operation, exception.Message, exception);
            severity = ResilienceEventSeverity.None;
        }

        var args = new OnCircuitStateStoreFailureArguments(context, _circuitId, operation, exception);
        _telemetry.Report(new ResilienceEvent(severity, DistributedCircuitBreakerEvents.OnCircuitStateStoreFailure), context, args);
        if (_onStateStoreFailure is { } callback)
        {
            await callback(args).ConfigureAwait(context.ContinueOnCapturedContext);
        }
    }

    private static class StoreOperation
    {
        public const string Read = nameof(ICircuitStateStore.ReadAsync);
        public const string Write = nameof(ICircuitStateStore.WriteAsync);
        public const string TryReplace = nameof(ICircuitStateStore.TryReplaceAsync);
        public const string TryClaimProbe = nameof(ICircuitStateStore.TryClaimProbeAsync);
        public const string TryIncrementFailure = nameof(ICircuitStateStore.TryIncrementFailureAsync);
    }
}
