using Polly.CircuitBreaker;
using Polly.Distributed.CircuitBreaker.State;
using Polly.Telemetry;

namespace Polly.Distributed.CircuitBreaker.Controller;

/// <summary>
/// The admission and record protocol: applies the <see cref="CircuitStateMachine"/> to the shared state through the
/// <see cref="CircuitStoreGateway"/>, and raises the events of the transitions this process makes.
/// </summary>
/// <remarks>
/// Atomic mode counts a failure of a closed circuit with one commutative store increment (which also opens the circuit at
/// the threshold, for exactly one writer); every other change is a conditional write that one writer wins, and a loser
/// decides again on the stored state it is given. Last-writer-wins mode reads, computes and writes unconditionally.
/// </remarks>
/// <typeparam name="TResult">The result type of the pipeline.</typeparam>
internal sealed class DistributedCircuitController<TResult>
{
    // A foreign item may hold any nextAttempt: RetryAfter stays representable.
    private const long MaxRetryAfterMs = 365L * 24 * 60 * 60 * 1000;

    private readonly CircuitStoreGateway _store;
    private readonly CircuitTransitionEvents<TResult> _events;
    private readonly CircuitBreakerSettings _settings;
    private readonly ResilienceStrategyTelemetry _telemetry;
    private readonly Action<CircuitIncrementResult> _onLateIncrement;
    private readonly string _openMessage;
    private readonly string _isolatedMessage;
    private string? _possiblyLandedClaim;

    public DistributedCircuitController(
        DistributedCircuitBreakerStrategyOptions<TResult> options,
        TimeProvider timeProvider,
        ResilienceStrategyTelemetry telemetry)
    {
        CircuitId = options.CircuitId!;
        _settings = new CircuitBreakerSettings(
            options.FailureThreshold,
            options.SuccessThreshold,
            (long)options.BreakDuration.TotalMilliseconds,
            (long)options.MaxBreakDuration.TotalMilliseconds,
            (long)options.FailureWindow.TotalMilliseconds,
            (long)options.ProbeLeaseDuration.TotalMilliseconds,
            options.Consistency == CircuitConsistency.Atomic);
        _store = new CircuitStoreGateway(
            options.StateStore!,
            CircuitId,
            options.StoreTimeout,
            options.CacheTtl,
            timeProvider,
            options.Logger,
            telemetry,
            options.OnStateStoreFailure);
        _events = new CircuitTransitionEvents<TResult>(options, telemetry);
        _telemetry = telemetry;
        _openMessage = $"The circuit '{CircuitId}' is open; calls are rejected until its next attempt (RetryAfter).";
        _isolatedMessage = $"The circuit '{CircuitId}' is isolated manually; calls are rejected until it is closed.";
        _onLateIncrement = result =>
        {
            if (result.Outcome == CircuitIncrementOutcome.CountedAndOpened)
            {
                _ = RaiseLateOpenedAsync(result.Current.Snapshot);
            }
        };
    }

    public string CircuitId { get; }

    /// <summary>Decides whether a call may pass, making the open to half-open transition (and in atomic mode the probe claim) when due.</summary>
    public ValueTask<CallPermit> AcquireAsync(ResilienceContext context)
    {
        // The hot paths: a fresh cached entry, or one just read from a store that answers inline, lets a call through a
        // closed circuit or rejects it on an open one at once, with nothing allocated but the rejection.
        var now = _store.NowMs();
        if (_store.Caches ? _store.TryGetFresh(now, out var known) : _store.TryReadInline(now, out known))
        {
            if (known.Snapshot.State != SharedCircuitState.HalfOpen)
            {
                var decision = known.Snapshot.State == SharedCircuitState.Closed
                    ? CheckDecision.Allow
                    : CircuitStateMachine.Check(known.Snapshot, now, _settings, probeOwner: null);
                switch (decision.Verdict)
                {
                    case CheckVerdict.Allow:
                        return new ValueTask<CallPermit>(CallPermit.Allowed(known, _store.StoreTimeout));
                    case CheckVerdict.Reject:
                        return new ValueTask<CallPermit>(CallPermit.Rejected(CreateRejection(decision), known));
                }
            }

            return AcquireFromStoreAsync(context, known);
        }

        return AcquireFromStoreAsync(context, known: null);
    }

    /// <summary>Records the outcome of a call that was let through, within what is left of the call's store time.</summary>
    public ValueTask RecordAsync(ResilienceContext context, CallPermit permit, bool failed, Outcome<TResult> outcome)
    {
        // A success moves only a half-open circuit (in atomic mode, only through the probe): a healthy call on a closed
        // circuit costs no store call here. A failure is counted even when the check could not read the store.
        if (!failed && permit.ProbeOwner is null && (_settings.Atomic || permit.Observed?.Snapshot.State != SharedCircuitState.HalfOpen))
        {
            return default;
        }

        if (permit.StoreTimeLeft <= TimeSpan.Zero)
        {
            NoteUnrecorded(failed);
            return default;
        }

        return RecordInStoreAsync(context, permit, failed, outcome);
    }

    /// <summary>
    /// A permit for reporting an outcome whose check happened in another request (the sidecar's GET, then its POST), when
    /// that check left no permit behind: the decision is taken on the last state this process saw.
    /// </summary>
    public CallPermit PermitForSeparateReport() => CallPermit.FailedOpen(_store.StoreTimeout) with { Observed = _store.LastKnownEntry };

    /// <summary>Gets the last state this process saw for the circuit, however old; <see langword="null"/> when it saw none.</summary>
    public CircuitSnapshot? LastKnownSnapshot => _store.LastKnown;

    /// <summary>Gives back the probe lease of a call that its caller cancelled, so that another call may probe.</summary>
    public ValueTask ReleaseProbeAsync(ResilienceContext context, CallPermit permit) =>
        permit.ProbeOwner is null || permit.Observed is null
            ? default
            : UpdateAtomicallyAsync(
                context,
                _store.StartBudget(_store.StoreTimeout, CancellationToken.None),
                permit.Observed,
                (snapshot, now) => CircuitStateMachine.ReleaseProbe(snapshot, now, permit.ProbeOwner),
                outcome: null);

    /// <summary>Isolates the circuit fleet-wide. Store errors are thrown to the caller.</summary>
    public Task IsolateAsync(CancellationToken cancellationToken) =>
        ChangeManuallyAsync(CircuitStateMachine.Isolate, cancellationToken);

    /// <summary>Closes the circuit fleet-wide. Store errors are thrown to the caller.</summary>
    public Task CloseAsync(CancellationToken cancellationToken) =>
        ChangeManuallyAsync(CircuitStateMachine.Close, cancellationToken);

    /// <summary>Reads the shared state from the store, bypassing the cache. Store errors are thrown to the caller.</summary>
    public async Task<CircuitSnapshot> ReadSnapshotAsync(CancellationToken cancellationToken) =>
        (await _store.ReadOrThrowAsync(cancellationToken).ConfigureAwait(false)).Snapshot;

    private static string NewWriteId() => Guid.NewGuid().ToString("N");

    private static bool HoldsLease(CircuitStateEntry entry, string? probeOwner) =>
        probeOwner is not null && entry.Snapshot.State == SharedCircuitState.HalfOpen && entry.Snapshot.ProbeLeaseOwner == probeOwner;

    /// <summary>The check that waits for the store, starting from <paramref name="known"/> when the fast path already read it.</summary>
    private async ValueTask<CallPermit> AcquireFromStoreAsync(ResilienceContext context, CircuitStateEntry? known)
    {
        var budget = _store.StartBudget(_store.StoreTimeout, context.CancellationToken);
        var entry = known ?? await _store.TryReadAsync(context, budget, bypassCache: false).ConfigureAwait(false);
        var fromStore = !_store.Caches;
        string? probeOwner = null;

        // Each turn follows a change that another writer made in between, and spends the same budget.
        while (entry is not null)
        {
            var now = _store.NowMs();
            if (_settings.Atomic && entry.Snapshot.State != SharedCircuitState.Closed)
            {
                probeOwner ??= AdoptOwnLandedClaim(entry.Snapshot);
            }

            var decision = CircuitStateMachine.Check(entry.Snapshot, now, _settings, probeOwner, LeaseFirstSeen(entry.Snapshot));

            // A lease identity is made only for a call that may become the probe: a rejection allocates none.
            if (_settings.Atomic && probeOwner is null && decision.Verdict is CheckVerdict.Transition or CheckVerdict.ClaimProbe)
            {
                probeOwner = NewWriteId();
                decision = CircuitStateMachine.Check(entry.Snapshot, now, _settings, probeOwner, LeaseFirstSeen(entry.Snapshot));
            }

            switch (decision.Verdict)
            {
                case CheckVerdict.Allow:
                    // Holding the lease here means a retried claim met its own earlier, successful write.
                    return CallPermit.Allowed(entry, _store.Remaining(budget), HoldsLease(entry, probeOwner) ? probeOwner : null);

                case CheckVerdict.Reject:
                    return CallPermit.Rejected(CreateRejection(decision), entry);

                // An unconditional write overwrites whatever is stored: decide on a state read from the store, never on the cache.
                case CheckVerdict.Transition when !_settings.Atomic && !fromStore:
                    entry = await _store.TryReadAsync(context, budget, bypassCache: true).ConfigureAwait(false);
                    fromStore = true;
                    break;

                case CheckVerdict.Transition when !_settings.Atomic:
                    if (!await _store.TryWriteAsync(context, budget, decision.Next!).ConfigureAwait(false))
                    {
                        return WithoutStore(budget, probeOwner);
                    }

                    await _events.RaiseAsync(context, entry.Snapshot, decision.Next!, outcome: null, manual: false).ConfigureAwait(false);
                    return CallPermit.Allowed(new CircuitStateEntry(decision.Next!, true, null), _store.Remaining(budget));

                case CheckVerdict.Transition:
                    var replaced = await _store.TryReplaceAsync(context, budget, entry, decision.Next!).ConfigureAwait(false);
                    if (replaced is not { } replacement)
                    {
                        return WithoutStore(budget, probeOwner);
                    }

                    var stored = replacement.Current ?? (replacement.Succeeded
                        ? new CircuitStateEntry(decision.Next!, true, null)
                        : await _store.TryReadAsync(context, budget, bypassCache: true).ConfigureAwait(false));

                    // A conflict that shows our own lease is our write, applied by a retry of the store client.
                    if (stored is not null && (replacement.Succeeded || HoldsLease(stored, probeOwner)))
                    {
                        var permit = CallPermit.Allowed(stored, _store.Remaining(budget), HoldsLease(stored, probeOwner) ? probeOwner : null);
                        await RaiseHoldingLeaseAsync(context, permit, entry.Snapshot, decision.Next!).ConfigureAwait(false);
                        return permit;
                    }

                    entry = stored;
                    break;

                default:
                    var claimed = await _store.TryClaimProbeAsync(context, budget, probeOwner!, now + _settings.ProbeLeaseMs, now).ConfigureAwait(false);
                    if (claimed is not { } claim)
                    {
                        return WithoutStore(budget, probeOwner);
                    }

                    entry = claim.Current ?? await _store.TryReadAsync(context, budget, bypassCache: true).ConfigureAwait(false);
                    if (entry is not null && (claim.Succeeded || HoldsLease(entry, probeOwner)))
                    {
                        return CallPermit.Allowed(entry, _store.Remaining(budget), probeOwner);
                    }

                    break;
            }
        }

        return WithoutStore(budget, probeOwner);
    }

    /// <summary>The store could not answer: act on the last state this process saw, failing open only when it rejects nothing.</summary>
    private CallPermit WithoutStore(StoreBudget budget, string? probeOwner)
    {
        // A claim whose answer was lost may have landed: its lease, if later seen, is this process's own and lapses on its clock.
        if (probeOwner is not null)
        {
            Volatile.Write(ref _possiblyLandedClaim, probeOwner);
        }

        var lastKnown = _store.LastKnown;
        var decision = CircuitStateMachine.WithoutStore(lastKnown, _store.NowMs(), _settings, probeOwner, lastKnown is null ? null : LeaseFirstSeen(lastKnown));
        return decision.Verdict == CheckVerdict.Reject
            ? CallPermit.Rejected(CreateRejection(decision), observed: null)
            : CallPermit.FailedOpen(_store.Remaining(budget));
    }

    // A claim of this process whose answer was lost did land: the next call of this process is that probe (one call only).
    private string? AdoptOwnLandedClaim(CircuitSnapshot snapshot) =>
        snapshot.ProbeLeaseOwner is { } owner && Interlocked.CompareExchange(ref _possiblyLandedClaim, null, owner) == owner ? owner : null;

    private long? LeaseFirstSeen(CircuitSnapshot snapshot) =>
        snapshot.ProbeLeaseOwner is { } owner && owner == Volatile.Read(ref _possiblyLandedClaim) ? null : _store.LeaseFirstSeen(snapshot);

    // The user's OnHalfOpened may throw: give the lease back first, or the fleet waits for it to expire.
    private async ValueTask RaiseHoldingLeaseAsync(ResilienceContext context, CallPermit permit, CircuitSnapshot before, CircuitSnapshot after)
    {
        try
        {
            await _events.RaiseAsync(context, before, after, outcome: null, manual: false).ConfigureAwait(false);
        }
        catch
        {
            await ReleaseProbeAsync(context, permit).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// A failure the store could not record still counts in this process's last known state, with the circuit's own rules:
    /// an environment cut off from a saturated or failing store stops calling a dead dependency at the threshold (and then
    /// rejects as for any OPEN it has seen) instead of calling it on every request.
    /// </summary>
    private void NoteUnrecorded(bool failed)
    {
        if (failed)
        {
            _store.UpdateLastKnown(snapshot => CircuitStateMachine.RecordFailure(snapshot, _store.NowMs(), _settings, probeOwner: null));
        }
    }

    private async ValueTask RecordInStoreAsync(ResilienceContext context, CallPermit permit, bool failed, Outcome<TResult> outcome)
    {
        var budget = _store.StartBudget(permit.StoreTimeLeft, context.CancellationToken);
        Func<CircuitSnapshot, long, CircuitSnapshot?> transition = failed
            ? (snapshot, now) => CircuitStateMachine.RecordFailure(snapshot, now, _settings, permit.ProbeOwner)
            : (snapshot, now) => CircuitStateMachine.RecordSuccess(snapshot, now, _settings, permit.ProbeOwner);

        if (!_settings.Atomic)
        {
            await UpdateLastWriterWinsAsync(context, budget, transition, failed, outcome).ConfigureAwait(false);
        }
        else if (permit.ProbeOwner is { } && permit.Observed is { } admittedOn)
        {
            // The probe starts from the entry its own claim wrote, so a stale read can never hide its lease.
            await UpdateAtomicallyAsync(context, budget, admittedOn, transition, outcome).ConfigureAwait(false);
        }
        else
        {
            await CountFailureAsync(context, budget, permit.Observed?.Snapshot, outcome).ConfigureAwait(false);
        }
    }

    /// <summary>Last-writer-wins: read past the cache (the write overwrites), compute, write.</summary>
    private async ValueTask UpdateLastWriterWinsAsync(
        ResilienceContext context,
        StoreBudget budget,
        Func<CircuitSnapshot, long, CircuitSnapshot?> transition,
        bool failed,
        Outcome<TResult> outcome)
    {
        var entry = await _store.TryReadAsync(context, budget, bypassCache: true).ConfigureAwait(false);
        if (entry is null)
        {
            NoteUnrecorded(failed);
        }
        else if (transition(entry.Snapshot, _store.NowMs()) is { } next)
        {
            if (await _store.TryWriteAsync(context, budget, next).ConfigureAwait(false))
            {
                await _events.RaiseAsync(context, entry.Snapshot, next, outcome, manual: false).ConfigureAwait(false);
            }
            else
            {
                NoteUnrecorded(failed);
            }
        }
    }

    /// <summary>Atomic: one commutative increment; a closed item the store could not count (malformed) is replaced by compare-and-set.</summary>
    private async ValueTask CountFailureAsync(ResilienceContext context, StoreBudget budget, CircuitSnapshot? admittedOn, Outcome<TResult> outcome)
    {
        var increment = CircuitStateMachine.FailureIncrement(_store.NowMs(), _settings, NewWriteId(), admittedOn);
        while (await _store.TryIncrementFailureAsync(context, budget, increment, _onLateIncrement).ConfigureAwait(false) is { } result)
        {
            switch (result.Outcome)
            {
                case CircuitIncrementOutcome.CountedAndOpened:
                    await _events.RaiseAsync(context, CircuitSnapshot.Initial, result.Current.Snapshot, outcome, manual: false).ConfigureAwait(false);
                    return;

                // Counted, or not counted because the circuit is open or half-open: a late outcome changes nothing there.
                case CircuitIncrementOutcome.Counted:
                case CircuitIncrementOutcome.NotCounted when result.Current.Snapshot.State != SharedCircuitState.Closed:
                    return;
            }

            var current = result.Current;
            var next = CircuitStateMachine.RecordFailure(current.Snapshot, increment.NowUnixMs, _settings, probeOwner: null)!;
            if (await _store.TryReplaceAsync(context, budget, current, next).ConfigureAwait(false) is not { } replaced)
            {
                break;
            }

            if (replaced.Succeeded)
            {
                await _events.RaiseAsync(context, current.Snapshot, next, outcome, manual: false).ConfigureAwait(false);
                return;
            }
        }

        NoteUnrecorded(failed: true);
    }

    /// <summary>Atomic: compare-and-set from <paramref name="entry"/>; a conflict brings the stored item to decide again.</summary>
    private async ValueTask UpdateAtomicallyAsync(
        ResilienceContext context,
        StoreBudget budget,
        CircuitStateEntry entry,
        Func<CircuitSnapshot, long, CircuitSnapshot?> transition,
        Outcome<TResult>? outcome)
    {
        while (transition(entry.Snapshot, _store.NowMs()) is { } next)
        {
            if (await _store.TryReplaceAsync(context, budget, entry, next).ConfigureAwait(false) is not { } replaced)
            {
                return;
            }

            if (replaced.Succeeded)
            {
                await _events.RaiseAsync(context, entry.Snapshot, next, outcome, manual: false).ConfigureAwait(false);
                return;
            }

            if ((replaced.Current ?? await _store.TryReadAsync(context, budget, bypassCache: true).ConfigureAwait(false)) is not { } stored)
            {
                return;
            }

            entry = stored;
        }
    }

    /// <summary>A count that landed after its call stopped waiting opened the circuit: this process made the transition.</summary>
    private async Task RaiseLateOpenedAsync(CircuitSnapshot opened)
    {
        var context = ResilienceContextPool.Shared.Get(CancellationToken.None);
        try
        {
            await _events.RaiseAsync(context, CircuitSnapshot.Initial, opened, outcome: null, manual: false).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // No caller is left to receive the user callback's exception.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    private async Task ChangeManuallyAsync(Func<CircuitSnapshot, long, CircuitSnapshot> change, CancellationToken cancellationToken)
    {
        var (current, next) = await ManualCircuitChange.ApplyAsync(_store.ReadOrThrowAsync, _store.ReplaceOrThrowAsync, change, _store.NowMs, cancellationToken).ConfigureAwait(false);
        var context = ResilienceContextPool.Shared.Get(cancellationToken);
        try
        {
            await _events.RaiseAsync(context, current, next, outcome: null, manual: true).ConfigureAwait(false);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    private BrokenCircuitException CreateRejection(CheckDecision decision)
    {
        // The messages are built once: a rejection is the hot path of an open circuit.
        BrokenCircuitException exception = decision.Isolated
            ? new IsolatedCircuitException(_isolatedMessage)
            : new BrokenCircuitException(_openMessage, TimeSpan.FromMilliseconds(Math.Min(decision.RetryAfterMs, MaxRetryAfterMs)));
        _telemetry.SetTelemetrySource(exception);
        return exception;
    }
}
