using Polly.Distributed.CircuitBreaker.State;

namespace Polly.Distributed.CircuitBreaker.Controller;

/// <summary>
/// Last-writer-wins, the Node library's semantics: read, decide, write the whole state. A write that a newer stored state
/// made the store skip is known as such: no event, and the process decides again on what is stored.
/// </summary>
/// <typeparam name="TResult">The result type of the pipeline.</typeparam>
internal sealed class LastWriterWinsProtocol<TResult>(
    CircuitStoreGateway store,
    CircuitTransitionEvents<TResult> events,
    CircuitRejections rejections,
    CircuitBreakerSettings settings,
    LocalCircuit local)
    : CircuitProtocol<TResult>(store, events, rejections, settings, local)
{
    public override CheckDecision Decide(CircuitSnapshot known, long now) => CircuitStateMachine.Check(known, now);

    public override async ValueTask<CallPermit> AcquireAsync(ResilienceContext context, StoreBudget budget, StoredCircuit? known, bool holdsLocalProbe)
    {
        var captured = context.ContinueOnCapturedContext;
        var entry = known ?? await Store.TryReadAsync(context, budget, pastCache: false).ConfigureAwait(captured);
        var readPastCache = !Store.Caches;
        while (entry is not null)
        {
            var decision = CircuitStateMachine.Check(entry.Snapshot, Store.NowMs());
            if (decision.Verdict != CheckVerdict.Transition)
            {
                return decision.Verdict == CheckVerdict.Reject ? Rejected(decision, entry) : CallPermit.Allowed(entry, Store.Remaining(budget));
            }

            // The write overwrites whatever is stored: it is decided on a state read from the store, never on the cache.
            if (readPastCache)
            {
                var next = CircuitStateMachine.OrderedAfter(decision.Next!, entry.Snapshot);
                var written = await Store.TryWriteAsync(context, budget, next).ConfigureAwait(captured);
                if (written is null)
                {
                    break;
                }

                if (written.Value)
                {
                    await Events.RaiseAsync(context, entry.Snapshot, next, outcome: null, manual: false).ConfigureAwait(captured);
                    return CallPermit.Allowed(new StoredCircuit(next, true, null), Store.Remaining(budget));
                }
            }

            entry = await Store.TryReadAsync(context, budget, pastCache: true).ConfigureAwait(captured);
            readPastCache = true;
        }

        return WithoutStore(budget, probeOwner: null, holdsLocalProbe);
    }

    public override bool MustRecord(CallPermit permit, bool failed) => failed || permit.Observed?.Snapshot.State == StoredCircuitState.HalfOpen;

    public override async ValueTask RecordAsync(ResilienceContext context, StoreBudget budget, CallPermit permit, bool failed, Outcome<TResult> outcome)
    {
        var captured = context.ContinueOnCapturedContext;
        var entry = await Store.TryReadAsync(context, budget, pastCache: true).ConfigureAwait(captured);
        while (entry is not null)
        {
            var now = Store.NowMs();
            var change = failed ? CircuitStateMachine.RecordFailure(entry.Snapshot, now, Settings, CauseOf(outcome)) : CircuitStateMachine.RecordSuccess(entry.Snapshot, now, Settings);
            if (change is null)
            {
                return;
            }

            var next = CircuitStateMachine.OrderedAfter(change, entry.Snapshot);
            var written = await Store.TryWriteAsync(context, budget, next).ConfigureAwait(captured);
            if (written == true)
            {
                if (failed)
                {
                    NoteRecorded();
                }

                await Events.RaiseAsync(context, entry.Snapshot, next, outcome, manual: false).ConfigureAwait(captured);
                return;
            }

            entry = written is null ? null : await Store.TryReadAsync(context, budget, pastCache: true).ConfigureAwait(captured);
        }

        NoteUnrecorded(context, failed);
    }

    protected override CheckDecision DecideWithoutStore(CircuitSnapshot? lastKnown, long now, string? probeOwner) =>
        CircuitStateMachine.WithoutStore(lastKnown, now, AnswerWaitMs);
}
