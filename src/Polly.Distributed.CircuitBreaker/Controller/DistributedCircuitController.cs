using Polly.Distributed.CircuitBreaker.State;
using Polly.Distributed.CircuitBreaker.Telemetry;
using Polly.Telemetry;

namespace Polly.Distributed.CircuitBreaker.Controller;

/// <summary>
/// One breaker's access to its circuit: the check and record of a protected call, through the protocol of its consistency
/// mode (<see cref="LastWriterWinsProtocol{TResult}"/> or <see cref="AtomicProtocol{TResult}"/>); manual changes; and
/// the hooks of a host that checks and records a call in separate requests (the sidecar).
/// </summary>
/// <typeparam name="TResult">The result type of the pipeline.</typeparam>
internal sealed class DistributedCircuitController<TResult>
{
    private readonly CircuitStoreGateway _store;
    private readonly CircuitTransitionEvents<TResult> _events;
    private readonly CircuitRejections _rejections;
    private readonly CircuitProtocol<TResult> _protocol;
    private readonly LocalCircuit _local;
    private readonly ResilienceStrategyTelemetry _telemetry;
    private readonly int _failureThreshold;
    private readonly object _isolationGate = new();
    private volatile bool _isolationPending;
    private Task? _isolating;

    public DistributedCircuitController(
        DistributedCircuitBreakerStrategyOptions<TResult> options,
        TimeProvider timeProvider,
        ResilienceStrategyTelemetry telemetry)
    {
        CircuitId = options.CircuitId!;
        var settings = new CircuitBreakerSettings(
            options.FailureThreshold,
            options.SuccessThreshold,
            (long)options.BreakDuration.TotalMilliseconds,
            (long)options.MaxBreakDuration.TotalMilliseconds,
            (long)options.FailureWindow.TotalMilliseconds,
            (long)options.ProbeLeaseDuration.TotalMilliseconds,
            options.MinimumFailingEnvironments,
            options.EnvironmentId);
        _store = new CircuitStoreGateway(
            options.StateStore!,
            CircuitId,
            options.StoreTimeout,
            options.CacheTtl,
            ReadIntervalCeiling(options),
            SustainedReadIntervalCeiling(options),
            timeProvider,
            options.Logger,
            telemetry,
            options.OnStateStoreFailure);
        _events = new CircuitTransitionEvents<TResult>(options, telemetry);
        _rejections = new CircuitRejections(CircuitId, telemetry);
        _local = new LocalCircuit(settings);
        _telemetry = telemetry;
        _failureThreshold = options.FailureThreshold;
        _protocol = options.Consistency == CircuitConsistency.Atomic
            ? new AtomicProtocol<TResult>(_store, _events, _rejections, settings, _local)
            : new LastWriterWinsProtocol<TResult>(_store, _events, _rejections, settings, _local);
    }

    public string CircuitId { get; }

    /// <summary>Gets how long one call may wait for the store in total.</summary>
    public TimeSpan StoreTimeout => _store.StoreTimeout;

    /// <summary>
    /// How far reads are spaced out at most while the store shows pressure: four store timeouts, at least a second, and
    /// never longer than the break, so a process never acts on a state older than that plus one store timeout.
    /// </summary>
    internal static TimeSpan ReadIntervalCeiling(DistributedCircuitBreakerStrategyOptions<TResult> options) =>
        TimeSpan.FromTicks(Math.Min(options.BreakDuration.Ticks, Math.Max(4 * options.StoreTimeout.Ticks, TimeSpan.TicksPerSecond)));

    /// <summary>
    /// How far reads are spaced out at most while the pressure outlasts whole intervals at <see cref="ReadIntervalCeiling"/>
    /// (a fleet larger than its store answers in one such interval): the longest break, at most one probe lease, so a
    /// process never acts on a state older than the longest break it keeps, nor than a lease.
    /// </summary>
    internal static TimeSpan SustainedReadIntervalCeiling(DistributedCircuitBreakerStrategyOptions<TResult> options) =>
        TimeSpan.FromTicks(Math.Max(ReadIntervalCeiling(options).Ticks, Math.Min(options.MaxBreakDuration.Ticks, options.ProbeLeaseDuration.Ticks)));

    /// <summary>Gets the last state this process saw for the circuit, however old; <see langword="null"/> when it saw none.</summary>
    public CircuitSnapshot? LastKnownSnapshot => _store.LastKnown?.Snapshot;

    /// <summary>Gets the state of this process's own circuit.</summary>
    public LocalCircuitState LocalState => _local.State;

    /// <summary>Reports the state this process last knew of the circuit in the state gauge, until the returned registration is disposed.</summary>
    public IDisposable ReportStateMetrics(string? pipelineName, string? pipelineInstance, string? strategyName) =>
        CircuitStateGauge.Register(_store, pipelineName, pipelineInstance, strategyName);

    /// <summary>Decides whether a call may pass, making the transition that is due.</summary>
    public ValueTask<CallPermit> AcquireAsync(ResilienceContext context)
    {
        if (_isolationPending)
        {
            return new(RejectWhileIsolating());
        }

        // Once the store has recorded the fleet's OPEN, this process's own circuit has done its part: the fleet's decides.
        return _local.IsClosed || (FleetRejects() && _local.YieldToFleet())
            ? AcquireSharedAsync(context, holdsLocalProbe: false)
            : AcquireThroughLocalCircuit(context);
    }

    /// <summary>Records the outcome of a call that was let through, within what is left of the call's store time.</summary>
    public ValueTask RecordAsync(ResilienceContext context, CallPermit permit, bool failed, Outcome<TResult> outcome)
    {
        var recording = RecordSharedAsync(context, permit, failed, outcome);
        if (!failed && !permit.LocalProbe)
        {
            return recording;
        }

        if (!recording.IsCompletedSuccessfully)
        {
            return RecordLocallyAfterAsync(recording, context, permit, failed);
        }

        RecordLocally(context, permit, failed);
        return default;
    }

    /// <summary>Gives back the probe lease of a call whose outcome will not be recorded; the caller does not wait.</summary>
    public void ReleaseProbe(CallPermit permit)
    {
        if (permit.LocalProbe)
        {
            _local.ReleaseProbe();
        }

        _protocol.ReleaseProbe(permit);
    }

    private ValueTask<CallPermit> AcquireThroughLocalCircuit(ResilienceContext context)
    {
        switch (_local.Admit(_store.NowMonoMs(), out var retryAfterMs))
        {
            case LocalAdmission.Rejected:
                if (_store.ReadDue)
                {
                    _ = FollowFleetAsync();
                }

                return new(CallPermit.Rejected(_rejections.Create(CheckDecision.Reject(retryAfterMs)), observed: null));
            case LocalAdmission.Allowed:
                return AcquireSharedAsync(context, holdsLocalProbe: false);
        }

        var acquiring = AcquireSharedAsync(context, holdsLocalProbe: true);
        if (!acquiring.IsCompletedSuccessfully)
        {
            return AcquireLocalProbeAsync(acquiring, context);
        }

        return new(AsLocalProbe(acquiring.Result));
    }

    // While this process's own circuit rejects its calls, it still reads the circuit on its interval, with no caller
    // waiting: otherwise it would learn nothing of the fleet until its own break ended, and a fleet whose environments all
    // opened their own circuits in the same second would come back to the store together.
    private Task FollowFleetAsync() => DetachedStoreWork.RunAsync(context =>
        _store.TryReadAsync(context, _store.StartBudget(_store.StoreTimeout, CancellationToken.None), pastCache: false).AsTask());

    private async ValueTask<CallPermit> AcquireLocalProbeAsync(ValueTask<CallPermit> acquiring, ResilienceContext context)
    {
        try
        {
            return AsLocalProbe(await acquiring.ConfigureAwait(context.ContinueOnCapturedContext));
        }
        catch
        {
            _local.ReleaseProbe();
            throw;
        }
    }

    // The shared circuit rejected the local probe: another call of this process may probe once it lets calls through.
    // A local probe on a store under pressure that has not answered this process since its own break ended waits for an
    // answer (a read on its interval), as a fleet's half-open window does, for up to the longest read interval and a
    // StoreTimeout: a fleet whose environments all opened their own circuits in the same second would otherwise probe
    // once each, together, when their breaks end, and a read meanwhile shows the fleet's OPEN or its probe's outcome.
    private CallPermit AsLocalProbe(CallPermit permit)
    {
        var now = _store.NowMonoMs();
        if (permit.Rejection is null && _store.UnderPressure
            && _local.BreakEndedAgoMs(now) is var endedAgoMs && endedAgoMs < _protocol.AnswerWaitMs
            && (permit.Observed is null || (!permit.ProbeLocally && _store.LastAnsweredMonoMs < now - endedAgoMs)))
        {
            if (_store.ReadDue)
            {
                _ = FollowFleetAsync();
            }

            permit = CallPermit.Rejected(_rejections.Create(CheckDecision.Reject(_protocol.AnswerWaitMs - endedAgoMs)), observed: null);
        }

        if (permit.Rejection is not null)
        {
            _local.ReleaseProbe();
            return permit;
        }

        return permit with { LocalProbe = true };
    }

    // A call that is already this process's local probe passes as that probe when the store cannot say who probes.
    private ValueTask<CallPermit> AcquireSharedAsync(ResilienceContext context, bool holdsLocalProbe)
    {
        // After a failure of this process, the answer to its count tells the state the next call should be decided on:
        // deciding before it would send the call to a dependency that this process may just have seen opening the circuit.
        if (_protocol.CountInFlight is { IsCompleted: false } counting)
        {
            return AcquireAfterCountAsync(counting, context, holdsLocalProbe);
        }

        return AcquireSharedAsync(context, budget: null, holdsLocalProbe);
    }

    private async ValueTask<CallPermit> AcquireAfterCountAsync(Task counting, ResilienceContext context, bool holdsLocalProbe)
    {
        var budget = _store.StartBudget(_store.StoreTimeout, context.CancellationToken);
        await _store.WaitWithinAsync(counting, budget).ConfigureAwait(context.ContinueOnCapturedContext);
        return await AcquireSharedAsync(context, budget, holdsLocalProbe).ConfigureAwait(context.ContinueOnCapturedContext);
    }

    private ValueTask<CallPermit> AcquireSharedAsync(ResilienceContext context, StoreBudget? budget, bool holdsLocalProbe)
    {
        // A state known at once (a fresh cache entry, or a store that answered inline) decides a closed or an open circuit
        // with no wait, and nothing allocated but the rejection.
        StoredCircuit? known = null;
        if (_store.TryReadAtOnce(out var atOnce))
        {
            // Both protocols let every call through a closed circuit below its threshold and reject every call of an
            // isolated one, whatever the time: no clock is read for them.
            if (atOnce.Snapshot.State == StoredCircuitState.Closed && atOnce.Snapshot.FailureCount < _failureThreshold)
            {
                return new(CallPermit.Allowed(atOnce, _store.StoreTimeout));
            }

            if (atOnce.Snapshot.IsIsolated)
            {
                return new(CallPermit.Rejected(_rejections.Isolated(), atOnce));
            }

            var decision = _protocol.Decide(atOnce.Snapshot, _store.NowMs());
            switch (decision.Verdict)
            {
                case CheckVerdict.Allow:
                    return new(CallPermit.Allowed(atOnce, _store.StoreTimeout));
                case CheckVerdict.Reject:
                    return new(CallPermit.Rejected(_rejections.Create(decision), atOnce));
            }

            known = atOnce;
        }

        return _protocol.AcquireAsync(context, budget ?? _store.StartBudget(_store.StoreTimeout, context.CancellationToken), known, holdsLocalProbe);
    }

    private ValueTask RecordSharedAsync(ResilienceContext context, CallPermit permit, bool failed, Outcome<TResult> outcome)
    {
        if (!_protocol.MustRecord(permit, failed))
        {
            return default;
        }

        if (permit.StoreTimeLeft <= TimeSpan.Zero)
        {
            _protocol.RecordWithoutTime(context, permit, failed);
            return default;
        }

        return _protocol.RecordAsync(context, _store.StartBudget(permit.StoreTimeLeft, context.CancellationToken), permit, failed, outcome);
    }

    private async ValueTask RecordLocallyAfterAsync(ValueTask recording, ResilienceContext context, CallPermit permit, bool failed)
    {
        try
        {
            await recording.ConfigureAwait(context.ContinueOnCapturedContext);
        }
        finally
        {
            RecordLocally(context, permit, failed);
        }
    }

    private void RecordLocally(ResilienceContext context, CallPermit permit, bool failed)
    {
        if (failed)
        {
            if (_local.RecordFailure(_store.NowMonoMs(), permit.LocalProbe, FleetRejects(), _protocol.LastFailureUnanswered || _protocol.OthersFailing))
            {
                _telemetry.Report(new ResilienceEvent(ResilienceEventSeverity.Warning, DistributedCircuitBreakerEvents.OnLocalCircuitOpened), context, new LocalCircuitTransition(CircuitId, LocalCircuitState.Open));
            }
        }
        else
        {
            if (permit is { ProbeLocally: true, LocalProbe: true, Observed: { } admittedOn })
            {
                CloseLocallyAfterProbe(admittedOn.Snapshot);
            }

            if (_local.RecordSuccess(permit.LocalProbe))
            {
                _telemetry.Report(new ResilienceEvent(ResilienceEventSeverity.Information, DistributedCircuitBreakerEvents.OnLocalCircuitClosed), context, new LocalCircuitTransition(CircuitId, LocalCircuitState.Closed));
            }
        }
    }

    // A probe this process sent for the fleet succeeded: the circuit is closed as far as this process knows, until the
    // store answers (otherwise each later call would be a probe again, one at a time). Done before the local circuit
    // closes, so no call sees a closed local circuit beside the old OPEN and starts another local episode. Only the state
    // the probe was admitted on is closed: an OPEN, a lease or an isolation learned meanwhile stays. The CLOSED keeps that
    // state's timestamp, so any answer of the store replaces it, even one to a request sent before it.
    private void CloseLocallyAfterProbe(CircuitSnapshot admittedOn) =>
        _store.ApplyLocally(known => known == admittedOn
            ? CircuitStateMachine.Close(known, _store.NowMs()) with { StateTimestampUnixMs = known.StateTimestampUnixMs }
            : null);

    // The shared circuit is known to reject calls now: the fleet has taken over from this process's own circuit. An open
    // circuit whose break has ended does not: its half-open window may be this process's (ProbeLocally). Nor does an OPEN
    // that only this process's unrecorded failures made: the store's next answer replaces it (a CLOSED read before those
    // failures' counts land), and the failures would then count again from none.
    private bool FleetRejects() => _protocol.StoredOpenInBreak is not null;

    /// <summary>
    /// A permit for reporting an outcome whose check happened in another request (the sidecar's GET, then its POST), when
    /// that check left no permit behind: the decision is taken on the last state this process saw.
    /// </summary>
    public CallPermit PermitForSeparateReport() => CallPermit.FailedOpen(_store.StoreTimeout) with { Observed = _store.LastKnown };

    /// <summary>Isolates the circuit fleet-wide. Store errors are thrown to the caller.</summary>
    public async Task IsolateAsync(CancellationToken cancellationToken)
    {
        await ChangeManuallyAsync(CircuitStateMachine.Isolate, cancellationToken).ConfigureAwait(false);
        _isolationPending = false;
    }

    /// <summary>Closes the circuit fleet-wide. Store errors are thrown to the caller.</summary>
    public async Task CloseAsync(CancellationToken cancellationToken)
    {
        _isolationPending = false;
        await ChangeManuallyAsync(CircuitStateMachine.Close, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Isolates a circuit whose manual control was isolated before this breaker existed: calls are rejected at once, and
    /// the isolation is written to the store without making any caller wait (tried again by the next call if it failed).
    /// </summary>
    public void IsolateOnAttach()
    {
        _isolationPending = true;
        StartPendingIsolation();
    }

    /// <summary>Reads the shared state from the store, bypassing the cache. Store errors are thrown to the caller.</summary>
    public async Task<CircuitSnapshot> ReadSnapshotAsync(CancellationToken cancellationToken) =>
        (await _store.ReadOrThrowAsync(cancellationToken).ConfigureAwait(false)).Snapshot;

    private CallPermit RejectWhileIsolating()
    {
        StartPendingIsolation();
        return CallPermit.Rejected(_rejections.Isolated(), observed: null);
    }

    private void StartPendingIsolation()
    {
        lock (_isolationGate)
        {
            if (_isolating is null or { IsCompleted: true })
            {
                _isolating = IsolatePendingAsync();
            }
        }
    }

    private async Task IsolatePendingAsync()
    {
        await Task.Yield();
        try
        {
            if (_isolationPending)
            {
                await ChangeManuallyAsync(CircuitStateMachine.Isolate, CancellationToken.None).ConfigureAwait(false);
                _isolationPending = false;
            }
        }
#pragma warning disable CA1031 // The store failure leaves the isolation pending: calls keep being rejected and the next one tries again.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    private async Task ChangeManuallyAsync(Func<CircuitSnapshot, long, CircuitSnapshot> change, CancellationToken cancellationToken)
    {
        var (before, after) = await ManualCircuitChange.ApplyAsync(_store.ReadOrThrowAsync, _store.ReplaceOrThrowAsync, change, _store.NowMs, cancellationToken).ConfigureAwait(false);
        var context = ResilienceContextPool.Shared.Get(cancellationToken);
        try
        {
            await _events.RaiseAsync(context, before, after, outcome: null, manual: true).ConfigureAwait(false);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }
}
