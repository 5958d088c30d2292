using Polly.Distributed.CircuitBreaker.State;

namespace Polly.Distributed.CircuitBreaker.Controller;

/// <summary>
/// Atomic mode: a failure of a closed circuit is one commutative count that the store applies in one step (and that opens
/// the circuit at the threshold for exactly one writer); every other change is a compare-and-set that one writer wins,
/// and a loser decides again on the stored state. A half-open circuit admits one probe, which holds a lease.
/// </summary>
/// <remarks>
/// A claim of the lease (or the open to half-open write that carries one) whose answer this call did not take may have
/// landed: it is kept in <see cref="PendingProbeClaims"/> until a later call of this process finds the lease (on the item,
/// or in the late answer) and becomes that probe, or the late answer gives the lease back when no call took it within a
/// StoreTimeout. No lease is left behind by a cancelled or timed-out call.
/// </remarks>
/// <typeparam name="TResult">The result type of the pipeline.</typeparam>
internal sealed class AtomicProtocol<TResult> : CircuitProtocol<TResult>
{
    private readonly PendingProbeClaims _claims = new();
    private readonly FailureCountQueue _counts;
    private long _othersFailingUntilMonoMs = long.MinValue;
    private long _lastCountShown;

    public AtomicProtocol(CircuitStoreGateway store, CircuitTransitionEvents<TResult> events, CircuitRejections rejections, CircuitBreakerSettings settings, LocalCircuit local)
        : base(store, events, rejections, settings, local)
    {
        _counts = new FailureCountQueue(SendBatchAsync, store.TakeAbandonedCount, AnswerWithoutSending, store.UntilRequestDue);
    }

    public override CheckDecision Decide(CircuitSnapshot known, long now) =>
        known.State != StoredCircuitState.Closed && _claims.Contains(known.ProbeLeaseOwner) ? CheckDecision.ClaimProbe
        : Check(known, now, probeOwner: null);

    // A count at the threshold whose opening a store has not written yet is the fleet's OPEN already.
    public override StoredCircuit? StoredOpenInBreak =>
        Store.StoredOpenInBreak ?? (Store.LastAnswered is { } shown && Store.NowMs() is var now
            && CircuitStateMachine.OpenedByCount(shown.Snapshot, now, Settings) is { } opened && now < opened.NextAttemptUnixMs ? shown : null);

    public override async ValueTask<CallPermit> AcquireAsync(ResilienceContext context, StoreBudget budget, StoredCircuit? known, bool holdsLocalProbe)
    {
        var captured = context.ContinueOnCapturedContext;
        var inMemory = known is not null;
        var entry = known ?? await Store.TryReadAsync(context, budget, pastCache: false).ConfigureAwait(captured);
        string? probeOwner = null;

        // Each turn follows a change that another writer made in between, and spends the same budget.
        while (entry is not null)
        {
            var now = Store.NowMs();
            probeOwner ??= _claims.TryAdopt(entry.Snapshot);
            var decision = Check(entry.Snapshot, now, probeOwner);

            // A lease identity is made only for a call that may become the probe: a rejection allocates none.
            if (probeOwner is null && decision.Verdict is CheckVerdict.Transition or CheckVerdict.ClaimProbe)
            {
                probeOwner = Guid.NewGuid().ToString("N");
                decision = Check(entry.Snapshot, now, probeOwner);
            }

            switch (decision.Verdict)
            {
                case CheckVerdict.Allow:
                    return CallPermit.Allowed(entry, Store.Remaining(budget), HoldsLease(entry, probeOwner) ? probeOwner : null);
                case CheckVerdict.Reject:
                    return Rejected(decision, entry);
            }

            // Under pressure a claim decided on a state known from memory waits for this process's next request to be
            // due, and the circuit rejects meanwhile: a fleet that learnt the OPEN from its counts' answers all at once
            // would otherwise claim together when its break ends. When it is due, the circuit is read first: a claim is a
            // conditional write, which costs the store far more than a read (see ReadBeforeCountAsync), and the first
            // process due claims for the fleet while the others read its lease.
            if (inMemory && Store.UnderPressure)
            {
                if (Store.RequestDueInMs is > 0 and var dueInMs)
                {
                    return Rejected(CheckDecision.Reject(dueInMs), entry);
                }

                inMemory = false;
                entry = await Store.TryReadAsync(context, budget, pastCache: true).ConfigureAwait(captured);
                continue;
            }

            var before = CircuitStateMachine.OpenedByCount(entry.Snapshot, now, Settings) ?? entry.Snapshot;
            var owner = probeOwner!;
            var leaseExpires = now + Settings.ProbeLeaseMs;
            _claims.Add(owner, leaseExpires, now);
            void OnLate(CircuitWriteResult late) => GiveBackLateClaim(late, owner, before);
            var claim = decision.Verdict == CheckVerdict.Transition
                ? await Store.TryReplaceAsync(context, budget, entry, decision.Next!, OnLate).ConfigureAwait(captured)
                : await Store.TryClaimProbeAsync(context, budget, owner, leaseExpires, now, OnLate).ConfigureAwait(captured);
            if (claim is not { } answer)
            {
                break;
            }

            // Answered: the claim is this call's, unless another call of this process found its lease first and took it.
            if (!_claims.TryTake(owner))
            {
                probeOwner = null;
                entry = answer.Current ?? await Store.TryReadAsync(context, budget, pastCache: true).ConfigureAwait(captured);
                continue;
            }

            entry = answer.Current ?? await Store.TryReadAsync(context, budget, pastCache: true).ConfigureAwait(captured);
            if (entry is null)
            {
                _claims.Add(owner, leaseExpires, now);
                break;
            }

            // A conflict that shows our own lease is our write, applied by a retry of the store client.
            if (answer.Succeeded || HoldsLease(entry, owner))
            {
                var permit = CallPermit.Allowed(entry, Store.Remaining(budget), owner);
                await RaiseHoldingLeaseAsync(context, permit, before, entry.Snapshot).ConfigureAwait(captured);
                return permit;
            }
        }

        // The store did not answer: a claim of this process whose answer came after its call stopped waiting (applied to
        // the last known state) makes this call the probe.
        if (probeOwner is null && Store.LastKnown is { } last && HoldsLease(last, last.Snapshot.ProbeLeaseOwner)
            && Store.NowMs() < last.Snapshot.ProbeLeaseExpiresUnixMs && _claims.TryAdopt(last.Snapshot) is { } adopted)
        {
            return CallPermit.Allowed(last, Store.Remaining(budget), adopted);
        }

        return WithoutStore(budget, probeOwner, holdsLocalProbe);
    }

    public override Task? CountInFlight => _counts.Answering;

    public override bool LastFailureUnanswered => _counts.Overdue || base.LastFailureUnanswered;

    // Until then (monotonic ms), the last count's answer showed failures of other environments in the circuit's window: the
    // fleet's count is on its way to the threshold, and this process's own circuit opens at half of it, as when its
    // counts go unanswered, instead of sending the dependency most of the threshold before the fleet's OPEN reaches it.
    public override bool OthersFailing => Store.NowMonoMs() < Volatile.Read(ref _othersFailingUntilMonoMs);

    public override bool MustRecord(CallPermit permit, bool failed) => failed || permit.ProbeOwner is not null;

    public override async ValueTask RecordAsync(ResilienceContext context, StoreBudget budget, CallPermit permit, bool failed, Outcome<TResult> outcome)
    {
        if (permit.ProbeOwner is { } owner && permit.Observed is { } admittedOn)
        {
            // The probe starts from the entry its own claim wrote, so a stale read can never hide its lease.
            Func<CircuitSnapshot, long, CircuitSnapshot?> change = failed
                ? (snapshot, now) => ProbeLeaseStateMachine.RecordFailure(snapshot, now, Settings, owner, CauseOf(outcome))
                : (snapshot, now) => ProbeLeaseStateMachine.RecordSuccess(snapshot, now, Settings, owner);
            if (!await UpdateAsync(context, budget, admittedOn, change, outcome).ConfigureAwait(context.ContinueOnCapturedContext))
            {
                NoteUnrecorded(context, failed);
                _ = RetryProbeOutcomeDetachedAsync(change);
            }
        }
        else if (_counts.TryStartOrJoin(Store.NowMs(), out var batched))
        {
            try
            {
                var countedOn = permit.Observed?.Snapshot;
                if (await ReadBeforeCountAsync(context, budget).ConfigureAwait(context.ContinueOnCapturedContext) is { } current)
                {
                    if (CountsNothing(current))
                    {
                        return;
                    }

                    countedOn = current.Snapshot;
                }

                await CountFailureAsync(context, budget, countedOn, outcome).ConfigureAwait(context.ContinueOnCapturedContext);
            }
            finally
            {
                _counts.End();
            }
        }
        else if (_counts.Overdue || await Store.WaitWithinAsync(batched, budget).ConfigureAwait(context.ContinueOnCapturedContext) is not (true, not null))
        {
            // A count whose call stopped waiting is still in flight: the batch this failure joined is sent only once that
            // count is answered, which the store already took longer than a call's store time to do. Waiting for it would
            // add a StoreTimeout to each failing call and spread an environment's failures over seconds, past the fleet's
            // break, instead of stopping it at the threshold as Polly's breaker would.
            // Or the batch was not counted in time (a store failure the gateway reported, or a count still waiting for the
            // one in flight): the failure counts in the last known state too, which the count's answer replaces. A batch
            // answered since the wait ended already holds it.
            if (batched is not { IsCompletedSuccessfully: true, Result: not null })
            {
                NoteUnrecorded(context, failed: true);
            }
        }
    }

    /// <summary>
    /// A failure still goes to the store when its call spent its store time (waiting for a slow check): it joins the next
    /// count without waiting for it, and counts in the last known state meanwhile, which the count's answer replaces.
    /// </summary>
    public override void RecordWithoutTime(ResilienceContext context, CallPermit permit, bool failed)
    {
        if (failed && permit.ProbeOwner is null)
        {
            _counts.AddWithoutWaiting(Store.NowMs());
        }

        base.RecordWithoutTime(context, permit, failed);
    }

    public override void ReleaseProbe(CallPermit permit)
    {
        if (permit.ProbeOwner is { } owner && permit.Observed is { } admittedOn)
        {
            _ = ReleaseDetachedAsync(admittedOn, owner);
        }
    }

    protected override CheckDecision DecideWithoutStore(CircuitSnapshot? lastKnown, long now, string? probeOwner) =>
        ProbeLeaseStateMachine.WithoutStore(lastKnown, now, Settings, probeOwner, AnswerWaitMs, lastKnown is null ? null : LeaseSeenAgoMs(lastKnown));

    // Taken only by a circuit with a quorum, and only when it first counts a failure.
    private string? EnvironmentId => Settings.MinimumFailingEnvironments > 1 ? Settings.EnvironmentId ?? DistributedCircuitBreakerEnvironment.Id : null;

    private static bool HoldsLease(StoredCircuit entry, string? probeOwner) =>
        probeOwner is not null && entry.Snapshot.State == StoredCircuitState.HalfOpen && entry.Snapshot.ProbeLeaseOwner == probeOwner;

    private CheckDecision Check(CircuitSnapshot snapshot, long now, string? probeOwner) =>
        ProbeLeaseStateMachine.Check(snapshot, now, Settings, probeOwner, LeaseSeenAgoMs(snapshot));

    // A pending claim of this process lapses on its own clock: first sight means nothing for it.
    private long? LeaseSeenAgoMs(CircuitSnapshot snapshot) => _claims.Contains(snapshot.ProbeLeaseOwner) ? null : Store.LeaseSeenAgoMs(snapshot);

    // The user's OnHalfOpened may throw: give the lease back first, or the fleet waits for it to expire.
    private async ValueTask RaiseHoldingLeaseAsync(ResilienceContext context, CallPermit permit, CircuitSnapshot before, CircuitSnapshot after)
    {
        try
        {
            await Events.RaiseAsync(context, before, after, outcome: null, manual: false).ConfigureAwait(context.ContinueOnCapturedContext);
        }
        catch
        {
            ReleaseProbe(permit);
            throw;
        }
    }

    private async ValueTask CountFailureAsync(ResilienceContext context, StoreBudget budget, CircuitSnapshot? admittedOn, Outcome<TResult> outcome)
    {
        var captured = context.ContinueOnCapturedContext;
        var cause = CauseOf(outcome);
        var opening = new CountOpening();
        var increment = CircuitStateMachine.FailureIncrement(Store.NowMs(), Settings, Guid.NewGuid().ToString("N"), admittedOn, EnvironmentId, cause);
        var sentAfter = Store.RequestsStarted;
        while (await CountAsync(context, budget, increment, opening).ConfigureAwait(captured) is { } result)
        {
            switch (result.Outcome)
            {
                case CircuitIncrementOutcome.CountedAndOpened:
                    if (opening.TryReport())
                    {
                        await Events.RaiseAsync(context, CircuitSnapshot.Initial, result.Current.Snapshot, outcome, manual: false).ConfigureAwait(captured);
                    }

                    return;

                // Counted, or not counted because the circuit is open, half-open, or opening (a count at the threshold that
                // a store opens in a request of its own): a late outcome changes nothing there.
                case CircuitIncrementOutcome.Counted:
                case CircuitIncrementOutcome.NotCounted when result.Current.Snapshot.State != StoredCircuitState.Closed
                    || CircuitStateMachine.OpenedByCount(result.Current.Snapshot, increment.NowUnixMs, Settings) is not null:
                    return;
            }

            // Failures from before the circuit last closed count nothing in the episode it started.
            var current = result.Current;
            if (current.MalformedReason is null && increment.PredatesTheEpisode(current.Snapshot))
            {
                return;
            }

            // A closed item the store could not count (malformed) is replaced by compare-and-set.
            var next = CircuitStateMachine.RecordFailure(current.Snapshot, increment.NowUnixMs, Settings, cause)!;
            sentAfter = Store.RequestsStarted;
            if (await Store.TryReplaceAsync(context, budget, current, next).ConfigureAwait(captured) is not { } replaced)
            {
                break;
            }

            if (replaced.Succeeded)
            {
                await Events.RaiseAsync(context, current.Snapshot, next, outcome, manual: false).ConfigureAwait(captured);
                return;
            }
        }

        NoteUnrecorded(context, failed: true, sentAfter);
    }

    // While the store shows pressure (throttling, timeouts, slow answers), the circuit is read before a count: a count is
    // a conditional write on the circuit's one item, which the store serialises (dynalite locks the item; a DynamoDB
    // item takes a third as many write units as read units per second, and a refused conditional write costs its units),
    // and once the circuit is open no count counts. A fleet whose failures all reach the item in the second its
    // dependency dies then spends it on reads that tell each environment the OPEN, and only the first few count. A read
    // the store did not answer leaves the count to be sent.
    private ValueTask<StoredCircuit?> ReadBeforeCountAsync(ResilienceContext context, StoreBudget budget) =>
        Store.UnderPressure ? Store.TryReadAsync(context, budget, pastCache: true) : default;

    private bool CountsNothing(StoredCircuit current) =>
        current.Snapshot.State != StoredCircuitState.Closed || CircuitStateMachine.OpenedByCount(current.Snapshot, Store.NowMs(), Settings) is not null;

    // The failures that gathered behind a count are not sent once the store has shown the circuit open in its break (the
    // answer to that count, most often): an open circuit counts none of them, and on a store whose requests queue, the
    // fleet's failures of the second its dependency died would otherwise reach it twice per environment. Nor once it has
    // shown the circuit open, half-open or closed again since the last of them (with nothing counted since the close):
    // their episode has ended, and the store takes none of them (CircuitFailureIncrement.PredatesTheEpisode), even
    // after the break.
    private CircuitIncrementResult? AnswerWithoutSending(long lastFailedAtUnixMs) =>
        (StoredOpenInBreak ?? EndedSince(lastFailedAtUnixMs)) is { } shown ? new CircuitIncrementResult(CircuitIncrementOutcome.NotCounted, shown) : null;

    private StoredCircuit? EndedSince(long unixMs) => Store.LastAnswered is { } shown
        && (shown.Snapshot.State == StoredCircuitState.Closed
            ? CircuitFailureIncrement.ClosedSince(shown.Snapshot, unixMs)
            : shown.Snapshot.StateTimestampUnixMs >= unixMs)
        ? shown
        : null;

    /// <summary>Sends the failures that joined while a count was in flight, as one count that carries how many.</summary>
    private async Task<CircuitIncrementResult?> SendBatchAsync(long failures, long lastFailedAtUnixMs)
    {
        var context = ResilienceContextPool.Shared.Get(CancellationToken.None);
        try
        {
            // The failures of a batch are several calls': the item records the environment that opened the circuit, not one cause.
            var increment = CircuitStateMachine.FailureIncrement(lastFailedAtUnixMs, Settings, Guid.NewGuid().ToString("N"), environmentId: EnvironmentId) with
            {
                Count = failures,
                OpenedBy = Settings.EnvironmentId ?? DistributedCircuitBreakerEnvironment.Id,
            };
            var budget = Store.StartBudget(Store.StoreTimeout, CancellationToken.None);
            if (await ReadBeforeCountAsync(context, budget).ConfigureAwait(false) is { } current && CountsNothing(current))
            {
                return new CircuitIncrementResult(CircuitIncrementOutcome.NotCounted, current);
            }

            var opening = new CountOpening();
            var result = await CountAsync(context, budget, increment, opening).ConfigureAwait(false);
            if (result is { Outcome: CircuitIncrementOutcome.CountedAndOpened } opened && opening.TryReport())
            {
                await Events.RaiseDetachedAsync(CircuitSnapshot.Initial, opened.Current.Snapshot).ConfigureAwait(false);
            }
            else if (result is { } answered)
            {
                FollowCountAnswer(answered, failures);
            }

            return result;
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    // The opening a count makes is reported once, as soon as the store says the count reached the threshold (a store that
    // opens in a request of its own, whose opening may wait behind a queue of the fleet's counts) or that it opened; and
    // a count that landed after its call stopped waiting reports its opening too: this process made the transition.
    private async ValueTask<CircuitIncrementResult?> CountAsync(ResilienceContext context, StoreBudget budget, CircuitFailureIncrement increment, CountOpening opening)
    {
        increment = increment with
        {
            ThresholdReached = reached =>
            {
                if (opening.TryReport())
                {
                    _ = Events.RaiseDetachedAsync(CircuitSnapshot.Initial, CircuitStateMachine.OpenedByCount(reached.Snapshot, Store.NowMs(), Settings) ?? reached.Snapshot);
                }
            },
        };
        void OnLate(CircuitIncrementResult late)
        {
            if (late.Outcome == CircuitIncrementOutcome.CountedAndOpened && opening.TryReport())
            {
                _ = Events.RaiseDetachedAsync(CircuitSnapshot.Initial, late.Current.Snapshot);
            }

            FollowCountAnswer(late, increment.Count);
        }

        var result = await Store.TryIncrementFailureAsync(context, budget, increment, OnLate).ConfigureAwait(context.ContinueOnCapturedContext);
        if (result is { } answered)
        {
            _ = NoteCountAnswer(answered, increment.Count);
        }

        return result;
    }

    // Failures of other environments: the count the answer shows beyond what this process's last answer showed and what
    // this count carried (or beyond what it carried alone, once the count has restarted since, which ends what an earlier
    // answer showed). Returns how many.
    private long NoteCountAnswer(CircuitIncrementResult result, long carried)
    {
        NoteRecorded();
        var shown = result.Current.Snapshot is { State: StoredCircuitState.Closed } closed ? closed.FailureCount : 0;
        var previous = Interlocked.Exchange(ref _lastCountShown, shown);
        var sameEpisode = shown >= previous + carried;
        var others = shown - carried - (sameEpisode ? previous : 0);
        if (others > 0)
        {
            Volatile.Write(ref _othersFailingUntilMonoMs, Store.NowMonoMs() + Settings.FailureWindowMs);
        }
        else if (!sameEpisode)
        {
            Volatile.Write(ref _othersFailingUntilMonoMs, long.MinValue);
        }

        return others;
    }

    // A count's answer that came after its call stopped waiting (or a batch's, which no call waits for): when it shows the
    // circuit closed below its threshold with no failures but this process's own, this process's own circuit, opened
    // early while no answer came, closes again: no other environment's failure has reached the store (unless the others
    // may still hold theirs back, see LocalCircuit.EndUnansweredOpening). Otherwise it stays open for its break: the
    // fleet's count is on its way to the threshold, and this process has sent the dependency its share.
    private void FollowCountAnswer(CircuitIncrementResult result, long carried)
    {
        if (NoteCountAnswer(result, carried) <= 0 && result.Current.Snapshot is { State: StoredCircuitState.Closed } closed
            && CircuitStateMachine.OpenedByCount(closed, Store.NowMs(), Settings) is null)
        {
            Local.EndUnansweredOpening(Store.NowMonoMs(), Store.RequestsHeldUpToMs);
        }
    }

    /// <summary>Compare-and-set from <paramref name="entry"/>; a conflict brings the stored item to decide again. <see langword="false"/> when the store failed.</summary>
    private async ValueTask<bool> UpdateAsync(
        ResilienceContext context,
        StoreBudget budget,
        StoredCircuit entry,
        Func<CircuitSnapshot, long, CircuitSnapshot?> change,
        Outcome<TResult>? outcome)
    {
        var captured = context.ContinueOnCapturedContext;
        while (change(entry.Snapshot, Store.NowMs()) is { } next)
        {
            if (await Store.TryReplaceAsync(context, budget, entry, next).ConfigureAwait(captured) is not { } replaced)
            {
                return false;
            }

            if (replaced.Succeeded)
            {
                await Events.RaiseAsync(context, entry.Snapshot, next, outcome, manual: false).ConfigureAwait(captured);
                return true;
            }

            if ((replaced.Current ?? await Store.TryReadAsync(context, budget, pastCache: true).ConfigureAwait(captured)) is not { } stored)
            {
                return false;
            }

            entry = stored;
        }

        return true;
    }

    // A claim that landed after its call gave up: the transition it made is raised, and the next call of this process
    // within a StoreTimeout becomes the probe; if none comes, the lease is given back. Given back at once, a store whose
    // answers all come late would take every claim and see every one given back, and the fleet would never probe.
    private void GiveBackLateClaim(CircuitWriteResult late, string owner, CircuitSnapshot before)
    {
        var landed = late.Succeeded || late.Current?.Snapshot.ProbeLeaseOwner == owner;
        if (landed && _claims.Contains(owner))
        {
            _ = RaiseThenReleaseUnadoptedAsync(late.Current, owner, before);
        }
    }

    private async Task RaiseThenReleaseUnadoptedAsync(StoredCircuit? landed, string owner, CircuitSnapshot before)
    {
        if (landed is not null)
        {
            await Events.RaiseDetachedAsync(before, landed.Snapshot).ConfigureAwait(false);
        }

        await Store.DelayAsync(Store.StoreTimeout).ConfigureAwait(false);
        if (_claims.TryTake(owner))
        {
            await ReleaseDetachedAsync(landed, owner).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Writes a probe's outcome that the store refused or did not answer (a throttled item) again, with no caller waiting,
    /// once per <see cref="CircuitStoreGateway.StoreTimeout"/> until it lands or the lease ends: otherwise the fleet would
    /// wait a whole lease for a probe whose outcome is known. A write that finds the circuit moved on changes nothing.
    /// </summary>
    private Task RetryProbeOutcomeDetachedAsync(Func<CircuitSnapshot, long, CircuitSnapshot?> change) => DetachedStoreWork.RunAsync(async context =>
    {
        var leaseEnds = Store.StartBudget(TimeSpan.FromMilliseconds(Settings.ProbeLeaseMs), CancellationToken.None);
        while (Store.Remaining(leaseEnds) > TimeSpan.Zero)
        {
            await Store.DelayAsync(Store.StoreTimeout).ConfigureAwait(false);
            var budget = Store.StartBudget(Store.StoreTimeout, CancellationToken.None);
            if (await Store.TryReadAsync(context, budget, pastCache: true).ConfigureAwait(false) is { } stored
                && await UpdateAsync(context, budget, stored, change, outcome: null).ConfigureAwait(false))
            {
                return;
            }
        }
    });

    /// <summary>Gives a lease back with no caller waiting, within one <see cref="CircuitStoreGateway.StoreTimeout"/>.</summary>
    private Task ReleaseDetachedAsync(StoredCircuit? from, string owner) => DetachedStoreWork.RunAsync(async context =>
    {
        var budget = Store.StartBudget(Store.StoreTimeout, CancellationToken.None);
        from ??= await Store.TryReadAsync(context, budget, pastCache: true).ConfigureAwait(false);
        if (from is not null)
        {
            await UpdateAsync(context, budget, from, (snapshot, now) => ProbeLeaseStateMachine.ReleaseProbe(snapshot, now, owner), outcome: null).ConfigureAwait(false);
        }
    });

    /// <summary>Whether the opening one count made has been reported.</summary>
    private sealed class CountOpening
    {
        private int _reported;

        public bool TryReport() => Interlocked.Exchange(ref _reported, 1) == 0;
    }
}
