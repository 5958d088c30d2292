using Microsoft.Extensions.Logging;
using Polly.CircuitBreaker;
using Polly.Distributed.CircuitBreaker.State;
using Polly.Distributed.CircuitBreaker.Stores.Caching;
using Polly.Distributed.CircuitBreaker.Telemetry;
using Polly.Telemetry;

namespace Polly.Distributed.CircuitBreaker.Controller;

/// <summary>
/// Applies the <see cref="CircuitStateMachine"/> to the shared state: reads, writes (unconditional or conditional with
/// retries), the cache, the bounded store timeout, fail-open and the circuit events.
/// </summary>
/// <typeparam name="TResult">The result type of the pipeline.</typeparam>
internal sealed class DistributedCircuitController<TResult>
{
    internal const int MaxWriteAttempts = 100;

    // A foreign item may hold any nextAttempt: RetryAfter stays representable.
    private const long MaxRetryAfterMs = 365L * 24 * 60 * 60 * 1000;

    private readonly ICircuitStateStore _store;
    private readonly string _circuitId;
    private readonly CircuitBreakerSettings _settings;
    private readonly TimeProvider _timeProvider;
    private readonly TimeSpan _storeTimeout;
    private readonly CachedCircuitState? _cache;
    private readonly long _cacheTtlMs;
    private readonly ILogger? _logger;
    private readonly ResilienceStrategyTelemetry _telemetry;
    private readonly Func<OnCircuitOpenedArguments<TResult>, ValueTask>? _onOpened;
    private readonly Func<OnCircuitClosedArguments<TResult>, ValueTask>? _onClosed;
    private readonly Func<OnCircuitHalfOpenedArguments, ValueTask>? _onHalfOpened;
    private readonly Func<OnCircuitStateStoreFailureArguments, ValueTask>? _onStateStoreFailure;
    private readonly Func<CancellationToken, ValueTask<CircuitStateEntry>> _readOperation;
    private readonly Func<Task<CircuitStateEntry>> _timedRead;
    private readonly Func<long> _nowMs;

    public DistributedCircuitController(
        DistributedCircuitBreakerStrategyOptions<TResult> options,
        TimeProvider timeProvider,
        ResilienceStrategyTelemetry telemetry)
    {
        _store = options.StateStore!;
        _circuitId = options.CircuitId!;
        _settings = new CircuitBreakerSettings(
            options.FailureThreshold,
            options.SuccessThreshold,
            (long)options.BreakDuration.TotalMilliseconds,
            (long)options.MaxBreakDuration.TotalMilliseconds,
            (long)options.FailureWindow.TotalMilliseconds,
            (long)options.ProbeLeaseDuration.TotalMilliseconds,
            options.Consistency == CircuitConsistency.Atomic);
        _timeProvider = timeProvider;
        _storeTimeout = options.StoreTimeout;
        _cacheTtlMs = (long)options.CacheTtl.TotalMilliseconds;
        _cache = _cacheTtlMs > 0 ? CircuitStateCache.For(_store, _circuitId) : null;
        _logger = options.Logger;
        _telemetry = telemetry;
        _onOpened = options.OnOpened;
        _onClosed = options.OnClosed;
        _onHalfOpened = options.OnHalfOpened;
        _onStateStoreFailure = options.OnStateStoreFailure;
        _readOperation = ct => _store.ReadAsync(_circuitId, ct);
        _timedRead = () => CallStoreAsync(_readOperation).AsTask();
        _nowMs = NowMs;
    }

    public string CircuitId => _circuitId;

    /// <summary>Decides whether a call may pass, making the open to half-open transition (and in atomic mode the probe claim) when due.</summary>
    public ValueTask<CallPermit> AcquireAsync(ResilienceContext context)
    {
        // The hot path: a fresh cached closed circuit lets the call through with no store call and no allocation.
        if (_cache is not null
            && _cache.TryGetFresh(NowMs(), _cacheTtlMs, out var cached)
            && cached.Snapshot.State == SharedCircuitState.Closed)
        {
            return new ValueTask<CallPermit>(CallPermit.Allowed(cached));
        }

        return AcquireFromStoreAsync(context);
    }

    /// <summary>Records the outcome of a call that was let through.</summary>
    public ValueTask RecordAsync(ResilienceContext context, CallPermit permit, bool failed, Outcome<TResult> outcome)
    {
        // A success only matters to a half-open circuit: a healthy call on a closed circuit costs no store call here.
        // A (possible) probe holder always reports, even if the store failed while it claimed: its claim may have landed.
        if (permit.ProbeOwner is null
            && (permit.Observed is null || (!failed && permit.Observed.Snapshot.State != SharedCircuitState.HalfOpen)))
        {
            return default;
        }

        return RecordInStoreAsync(context, permit, failed, outcome);
    }

    /// <summary>Gives back the probe lease of a call that its caller cancelled, so that another call may probe.</summary>
    public ValueTask ReleaseProbeAsync(ResilienceContext context, CallPermit permit) =>
        permit.ProbeOwner is null
            ? default
            : UpdateAsync(context, permit, (snapshot, now) => CircuitStateMachine.ReleaseProbe(snapshot, now, permit.ProbeOwner), outcome: null);

    /// <summary>Isolates the circuit fleet-wide. Store errors are thrown to the caller.</summary>
    public Task IsolateAsync(CancellationToken cancellationToken) =>
        ChangeManuallyAsync(CircuitStateMachine.Isolate, cancellationToken);

    /// <summary>Closes the circuit fleet-wide. Store errors are thrown to the caller.</summary>
    public Task CloseAsync(CancellationToken cancellationToken) =>
        ChangeManuallyAsync(CircuitStateMachine.Close, cancellationToken);

    /// <summary>Reads the shared state from the store, bypassing the cache. Store errors are thrown to the caller.</summary>
    public async Task<CircuitSnapshot> ReadSnapshotAsync(CancellationToken cancellationToken)
    {
        var generation = _cache?.Generation ?? 0;
        var entry = await _store.ReadAsync(_circuitId, cancellationToken).ConfigureAwait(false);
        _cache?.UpdateFromStore(entry, generation, NowMs());
        return entry.Snapshot;
    }

    private async ValueTask<CallPermit> AcquireFromStoreAsync(ResilienceContext context)
    {
        var started = _timeProvider.GetTimestamp();
        var entry = await TryReadAsync(context).ConfigureAwait(false);
        var fromStore = _cache is null;
        string? probeOwner = null;

        var attempt = 0;
        for (; entry is not null && attempt < MaxWriteAttempts && !PastDeadline(started); attempt++)
        {
            var now = NowMs();
            if (_settings.Atomic && entry.Snapshot.State != SharedCircuitState.Closed)
            {
                probeOwner ??= Guid.NewGuid().ToString("N");
            }

            var decision = CircuitStateMachine.Check(entry.Snapshot, now, _settings, probeOwner);
            switch (decision.Verdict)
            {
                case CheckVerdict.Allow:
                    // Holding the lease here means a retried claim met its own earlier, successful write.
                    return CallPermit.Allowed(entry, HoldsLease(entry, probeOwner) ? probeOwner : null);

                case CheckVerdict.Reject:
                    return CallPermit.Rejected(CreateRejection(decision), entry);

                // An unconditional write overwrites whatever is stored: decide on a state read from the store, never on the cache.
                case CheckVerdict.Transition when !_settings.Atomic && !fromStore:
                    entry = await TryReadAsync(context, bypassCache: true).ConfigureAwait(false);
                    fromStore = true;
                    break;

                case CheckVerdict.Transition when !_settings.Atomic:
                    if (!await TryWriteAsync(context, decision.Next!).ConfigureAwait(false))
                    {
                        return CallPermit.FailedOpen;
                    }

                    await RaiseTransitionAsync(context, entry.Snapshot, decision.Next!, outcome: null, manual: false).ConfigureAwait(false);
                    return CallPermit.Allowed(new CircuitStateEntry(decision.Next!, true, null));

                case CheckVerdict.Transition:
                    var replaced = await TryReplaceAsync(context, entry, decision.Next!).ConfigureAwait(false);
                    if (replaced is null)
                    {
                        return PossibleProbeHolder(decision.Next!, probeOwner);
                    }

                    var stored = replaced.Value.Succeeded
                        ? replaced.Value.Current ?? new CircuitStateEntry(decision.Next!, true, null)
                        : await CurrentAfterConflictAsync(context, replaced.Value).ConfigureAwait(false);

                    // A conflict that shows our own lease is our write, applied by a retry of the store client.
                    if (replaced.Value.Succeeded || (stored is not null && HoldsLease(stored, probeOwner)))
                    {
                        var permit = CallPermit.Allowed(stored!, probeOwner);
                        await RaiseHoldingLeaseAsync(context, permit, entry.Snapshot, decision.Next!).ConfigureAwait(false);
                        return permit;
                    }

                    entry = stored;
                    break;

                default:
                    var claimed = await TryClaimProbeAsync(context, probeOwner!, now).ConfigureAwait(false);
                    if (claimed is null)
                    {
                        return PossibleProbeHolder(
                            entry.Snapshot with { ProbeLeaseOwner = probeOwner, ProbeLeaseExpiresUnixMs = now + _settings.ProbeLeaseMs, StateTimestampUnixMs = now },
                            probeOwner);
                    }

                    if (claimed.Value.Succeeded)
                    {
                        return CallPermit.Allowed(claimed.Value.Current!, probeOwner);
                    }

                    entry = await CurrentAfterConflictAsync(context, claimed.Value).ConfigureAwait(false);
                    break;
            }
        }

        ReportGaveUp(entry, attempt);
        return CallPermit.FailedOpen;
    }

    private static bool HoldsLease(CircuitStateEntry entry, string? probeOwner) =>
        probeOwner is not null && entry.Snapshot.State == SharedCircuitState.HalfOpen && entry.Snapshot.ProbeLeaseOwner == probeOwner;

    /// <summary>
    /// A claim or transition whose store call failed may still have landed with this call's lease. The call reports as its
    /// possible holder, starting from what it tried to write with no concurrency token: the first conditional write then
    /// conflicts and the store returns its item as it really is, from which the outcome applies only if the lease is ours.
    /// </summary>
    private static CallPermit PossibleProbeHolder(CircuitSnapshot attempted, string? probeOwner) =>
        new(null, new CircuitStateEntry(attempted, true, null), probeOwner);

    // The user's OnHalfOpened may throw: give the lease back first, or the fleet waits for it to expire.
    private async ValueTask RaiseHoldingLeaseAsync(ResilienceContext context, CallPermit permit, CircuitSnapshot before, CircuitSnapshot after)
    {
        try
        {
            await RaiseTransitionAsync(context, before, after, outcome: null, manual: false).ConfigureAwait(false);
        }
        catch
        {
            await ReleaseProbeAsync(context, permit).ConfigureAwait(false);
            throw;
        }
    }

    // Kept apart from RecordAsync so that the hot path does not allocate this closure.
    private ValueTask RecordInStoreAsync(ResilienceContext context, CallPermit permit, bool failed, Outcome<TResult> outcome) =>
        UpdateAsync(
            context,
            permit,
            (snapshot, now) => failed
                ? CircuitStateMachine.RecordFailure(snapshot, now, _settings, permit.ProbeOwner)
                : CircuitStateMachine.RecordSuccess(snapshot, now, _settings, permit.ProbeOwner),
            outcome);

    /// <summary>
    /// Applies <paramref name="transition"/> to the stored state. Atomic mode starts from the entry the call was admitted on
    /// (for a probe, the one its own claim wrote), so a stale read can never hide the probe's lease; a conflict brings the
    /// stored item. Last-writer-wins mode reads the store first, past the cache, because its write overwrites.
    /// </summary>
    private async ValueTask UpdateAsync(
        ResilienceContext context,
        CallPermit permit,
        Func<CircuitSnapshot, long, CircuitSnapshot?> transition,
        Outcome<TResult>? outcome)
    {
        var started = _timeProvider.GetTimestamp();
        var entry = _settings.Atomic && permit.Observed is { } observed
            ? observed
            : await TryReadAsync(context, bypassCache: !_settings.Atomic).ConfigureAwait(false);

        var attempt = 0;
        for (; entry is not null && attempt < MaxWriteAttempts && !PastDeadline(started); attempt++)
        {
            var next = transition(entry.Snapshot, NowMs());
            if (next is null)
            {
                return;
            }

            if (!_settings.Atomic)
            {
                if (await TryWriteAsync(context, next).ConfigureAwait(false))
                {
                    await RaiseTransitionAsync(context, entry.Snapshot, next, outcome, manual: false).ConfigureAwait(false);
                }

                return;
            }

            var replaced = await TryReplaceAsync(context, entry, next).ConfigureAwait(false);
            if (replaced is null)
            {
                return;
            }

            if (replaced.Value.Succeeded)
            {
                await RaiseTransitionAsync(context, entry.Snapshot, next, outcome, manual: false).ConfigureAwait(false);
                return;
            }

            entry = await CurrentAfterConflictAsync(context, replaced.Value).ConfigureAwait(false);
        }

        ReportGaveUp(entry, attempt);
    }

    // Each store call has its own timeout; this bounds a whole run of conflicting writes.
    private bool PastDeadline(long started) => _timeProvider.GetElapsedTime(started) > _storeTimeout * 4;

    private void ReportGaveUp(CircuitStateEntry? entry, int attempts)
    {
        if (entry is not null && _logger is not null)
        {
            DistributedCircuitBreakerLog.ConflictRetriesExhausted(_logger, _circuitId, attempts);
        }
    }

    private async Task ChangeManuallyAsync(Func<CircuitSnapshot, long, CircuitSnapshot> change, CancellationToken cancellationToken)
    {
        var current = await ReadSnapshotAsync(cancellationToken).ConfigureAwait(false);
        var next = change(current, NowMs());
        var generation = _cache?.Generation ?? 0;
        await _store.WriteAsync(_circuitId, next, cancellationToken).ConfigureAwait(false);
        _cache?.UpdateAfterWrite(new CircuitStateEntry(next, true, null), confirmedByStore: false, generation, NowMs());

        var context = ResilienceContextPool.Shared.Get(cancellationToken);
        try
        {
            await RaiseTransitionAsync(context, current, next, outcome: null, manual: true).ConfigureAwait(false);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    private async ValueTask<CircuitStateEntry?> CurrentAfterConflictAsync(ResilienceContext context, CircuitWriteResult conflict) =>
        conflict.Current ?? await TryReadAsync(context, bypassCache: true).ConfigureAwait(false);

    private async ValueTask<CircuitStateEntry?> TryReadAsync(ResilienceContext context, bool bypassCache = false)
    {
        try
        {
            CircuitStateEntry entry;
            if (_cache is null || bypassCache)
            {
                var generation = _cache?.Generation ?? 0;
                entry = await CallStoreAsync(_readOperation).ConfigureAwait(false);
                _cache?.UpdateFromStore(entry, generation, NowMs());
            }
            else if (!_cache.TryGetFresh(NowMs(), _cacheTtlMs, out entry))
            {
                entry = await _cache.ReadSharedAsync(_timedRead, _nowMs).ConfigureAwait(false);
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
        catch (Exception ex)
        {
            await ReportStoreFailureAsync(context, StoreOperation.Read, ex).ConfigureAwait(false);
            return null;
        }
    }

    private async ValueTask<bool> TryWriteAsync(ResilienceContext context, CircuitSnapshot next)
    {
        try
        {
            var generation = _cache?.Generation ?? 0;
            await CallStoreAsync(async ct =>
            {
                await _store.WriteAsync(_circuitId, next, ct).ConfigureAwait(false);
                return true;
            }).ConfigureAwait(false);

            _cache?.UpdateAfterWrite(new CircuitStateEntry(next, true, null), confirmedByStore: false, generation, NowMs());
            return true;
        }
        catch (Exception ex)
        {
            await ReportStoreFailureAsync(context, StoreOperation.Write, ex).ConfigureAwait(false);
            return false;
        }
    }

    private ValueTask<CircuitWriteResult?> TryReplaceAsync(ResilienceContext context, CircuitStateEntry expected, CircuitSnapshot next) =>
        TryConditionalWriteAsync(context, StoreOperation.TryReplace, ct => _store.TryReplaceAsync(_circuitId, expected, next, ct));

    private ValueTask<CircuitWriteResult?> TryClaimProbeAsync(ResilienceContext context, string owner, long now)
    {
        var leaseExpires = now + _settings.ProbeLeaseMs;
        return TryConditionalWriteAsync(context, StoreOperation.TryClaimProbe, ct => _store.TryClaimProbeAsync(_circuitId, owner, leaseExpires, now, ct));
    }

    private async ValueTask<CircuitWriteResult?> TryConditionalWriteAsync(
        ResilienceContext context,
        string operation,
        Func<CancellationToken, ValueTask<CircuitWriteResult>> write)
    {
        try
        {
            var generation = _cache?.Generation ?? 0;
            var result = await CallStoreAsync(write).ConfigureAwait(false);
            if (result.Current is { } current)
            {
                if (result.Succeeded)
                {
                    _cache?.UpdateAfterWrite(current, confirmedByStore: true, generation, NowMs());
                }
                else
                {
                    _cache?.UpdateFromStore(current, generation, NowMs());
                }
            }

            return result;
        }
        catch (Exception ex)
        {
            await ReportStoreFailureAsync(context, operation, ex).ConfigureAwait(false);
            return null;
        }
    }

    // Bounds a store call even when the store ignores its cancellation token.
    private async ValueTask<T> CallStoreAsync<T>(Func<CancellationToken, ValueTask<T>> operation)
    {
        using var timeout = new CancellationTokenSource(_storeTimeout, _timeProvider);
        Task<T>? task = null;
        try
        {
            var pending = operation(timeout.Token);
            if (pending.IsCompleted)
            {
                return pending.Result;
            }

            task = pending.AsTask();
            return await task.WaitAsync(_storeTimeout, _timeProvider).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException || (ex is OperationCanceledException && timeout.IsCancellationRequested))
        {
            // Cancel the abandoned request too, so that it cannot land long after the breaker moved on.
            await timeout.CancelAsync().ConfigureAwait(false);
            if (task is { IsCompleted: false })
            {
                _ = task.ContinueWith(static t => t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            }

            throw new TimeoutException($"The circuit state store did not answer within {_storeTimeout.TotalMilliseconds} ms.", ex);
        }
    }

    private async ValueTask ReportStoreFailureAsync(ResilienceContext context, string operation, Exception exception)
    {
        if (_logger is not null)
        {
            DistributedCircuitBreakerLog.StoreFailed(_logger, _circuitId, operation, exception.Message, exception);
        }

        var args = new OnCircuitStateStoreFailureArguments(context, _circuitId, operation, exception);
        _telemetry.Report(new ResilienceEvent(ResilienceEventSeverity.Warning, DistributedCircuitBreakerEvents.OnCircuitStateStoreFailure), context, args);
        if (_onStateStoreFailure is { } callback)
        {
            await callback(args).ConfigureAwait(context.ContinueOnCapturedContext);
        }
    }

    private async ValueTask RaiseTransitionAsync(
        ResilienceContext context,
        CircuitSnapshot before,
        CircuitSnapshot after,
        Outcome<TResult>? outcome,
        bool manual)
    {
        if (after.State == SharedCircuitState.Open && (before.State != SharedCircuitState.Open || (manual && !before.IsIsolated)))
        {
            var breakDuration = after.IsIsolated ? TimeSpan.MaxValue : TimeSpan.FromMilliseconds(after.NextAttemptUnixMs - after.StateTimestampUnixMs);
            var args = new OnCircuitOpenedArguments<TResult>(context, outcome ?? default, breakDuration, manual);
            Report(ResilienceEventSeverity.Error, DistributedCircuitBreakerEvents.OnCircuitOpened, context, outcome, args);
            if (_onOpened is { } onOpened)
            {
                await onOpened(args).ConfigureAwait(context.ContinueOnCapturedContext);
            }
        }
        else if (after.State == SharedCircuitState.Closed && before.State != SharedCircuitState.Closed)
        {
            var args = new OnCircuitClosedArguments<TResult>(context, outcome ?? default, manual);
            Report(ResilienceEventSeverity.Information, DistributedCircuitBreakerEvents.OnCircuitClosed, context, outcome, args);
            if (_onClosed is { } onClosed)
            {
                await onClosed(args).ConfigureAwait(context.ContinueOnCapturedContext);
            }
        }
        else if (after.State == SharedCircuitState.HalfOpen && before.State == SharedCircuitState.Open)
        {
            var args = new OnCircuitHalfOpenedArguments(context);
            _telemetry.Report(new ResilienceEvent(ResilienceEventSeverity.Warning, DistributedCircuitBreakerEvents.OnCircuitHalfOpened), context, args);
            if (_onHalfOpened is { } onHalfOpened)
            {
                await onHalfOpened(args).ConfigureAwait(context.ContinueOnCapturedContext);
            }
        }
    }

    private void Report<TArgs>(ResilienceEventSeverity severity, string name, ResilienceContext context, Outcome<TResult>? outcome, TArgs args)
    {
        if (outcome is { } value)
        {
            _telemetry.Report(new ResilienceEvent(severity, name), context, value, args);
        }
        else
        {
            _telemetry.Report(new ResilienceEvent(severity, name), context, args);
        }
    }

    private BrokenCircuitException CreateRejection(CheckDecision decision)
    {
        BrokenCircuitException exception = decision.Isolated
            ? new IsolatedCircuitException($"The circuit '{_circuitId}' is isolated manually; calls are rejected until it is closed.")
            : new BrokenCircuitException(
                $"The circuit '{_circuitId}' is open; calls are rejected for the next {decision.RetryAfterMs} ms.",
                TimeSpan.FromMilliseconds(Math.Min(decision.RetryAfterMs, MaxRetryAfterMs)));
        _telemetry.SetTelemetrySource(exception);
        return exception;
    }

    private long NowMs() => _timeProvider.GetUtcNow().ToUnixTimeMilliseconds();

    private static class StoreOperation
    {
        public const string Read = nameof(ICircuitStateStore.ReadAsync);
        public const string Write = nameof(ICircuitStateStore.WriteAsync);
        public const string TryReplace = nameof(ICircuitStateStore.TryReplaceAsync);
        public const string TryClaimProbe = nameof(ICircuitStateStore.TryClaimProbeAsync);
    }
}
