using Polly.Distributed.CircuitBreaker.State;

namespace Polly.Distributed.CircuitBreaker.Controller;

/// <summary>
/// How a breaker checks and records calls on the shared state in one consistency mode: chosen once, when the strategy
/// is built (<see cref="LastWriterWinsProtocol{TResult}"/> or <see cref="AtomicProtocol{TResult}"/>).
/// </summary>
/// <typeparam name="TResult">The result type of the pipeline.</typeparam>
internal abstract class CircuitProtocol<TResult>
{
    private volatile bool _failureUnrecorded;

    protected CircuitProtocol(CircuitStoreGateway store, CircuitTransitionEvents<TResult> events, CircuitRejections rejections, CircuitBreakerSettings settings, LocalCircuit local)
    {
        Store = store;
        Events = events;
        Rejections = rejections;
        Settings = settings;
        Local = local;
    }

    protected CircuitStoreGateway Store { get; }

    protected CircuitTransitionEvents<TResult> Events { get; }

    protected CircuitRejections Rejections { get; }

    protected CircuitBreakerSettings Settings { get; }

    /// <summary>Gets this process's own circuit, which takes the fleet's half-open window when the store cannot say who probes.</summary>
    protected LocalCircuit Local { get; }

    /// <summary>
    /// Decides a call on a state known at once (fresh in the cache, or answered inline): <see cref="CheckVerdict.Allow"/>
    /// and <see cref="CheckVerdict.Reject"/> are final; any other verdict needs the store.
    /// </summary>
    public abstract CheckDecision Decide(CircuitSnapshot known, long now);

    /// <summary>Decides whether a call may pass, making the transition that is due (a write the store must take).</summary>
    /// <param name="context">The call's context.</param>
    /// <param name="budget">The call's store time.</param>
    /// <param name="known">The state the check already read, or <see langword="null"/> to read it.</param>
    /// <param name="holdsLocalProbe">Whether the call is already the probe of this process's own circuit.</param>
    public abstract ValueTask<CallPermit> AcquireAsync(ResilienceContext context, StoreBudget budget, StoredCircuit? known, bool holdsLocalProbe);

    /// <summary>
    /// Gets a task that completes when the failure count this process is sending has its answer, or its call stopped waiting
    /// for one; <see langword="null"/> when none is being sent. A check waits for it (within its store time) rather than
    /// decide on a state the count's answer is about to replace.
    /// </summary>
    public virtual Task? CountInFlight => null;

    /// <summary>
    /// Gets a value indicating whether the store has not taken this process's last failure: it was refused or timed out
    /// under pressure (throttling, timeouts, slow answers), or, in Atomic mode, its count is still in flight after its
    /// call stopped waiting. This process's own circuit then opens at half the threshold (see <see cref="LocalCircuit"/>).
    /// </summary>
    public virtual bool LastFailureUnanswered => _failureUnrecorded;

    /// <summary>
    /// Gets a value indicating whether the store's last answer to a failure of this process showed other environments'
    /// failures counting towards the threshold: this process's own circuit then opens at half the threshold too.
    /// </summary>
    public virtual bool OthersFailing => false;

    /// <summary>
    /// Gets how long past the fleet's break (or a half-open seen with no lease, or the end of its own break while the store
    /// shows pressure) this process waits for the store to answer it once before it probes for itself: its longest read
    /// interval plus a store timeout
    /// (<see cref="CircuitStoreGateway.AnswerWithinMs"/>), never more than half a probe lease.
    /// </summary>
    public long AnswerWaitMs => Math.Min(Store.AnswerWithinMs, Settings.ProbeLeaseMs / 2);

    /// <summary>
    /// Gets the last state a store answer showed when the fleet rejects calls on it now (an OPEN in its break, or an
    /// isolation); <see langword="null"/> otherwise.
    /// </summary>
    public virtual StoredCircuit? StoredOpenInBreak => Store.StoredOpenInBreak;

    /// <summary>Whether an outcome must reach the store: a healthy call on a closed circuit costs nothing.</summary>
    public abstract bool MustRecord(CallPermit permit, bool failed);

    /// <summary>Records the outcome of a call that was let through.</summary>
    public abstract ValueTask RecordAsync(ResilienceContext context, StoreBudget budget, CallPermit permit, bool failed, Outcome<TResult> outcome);

    /// <summary>Gives back, without making the caller wait, the probe lease of a call whose outcome will not be recorded.</summary>
    public virtual void ReleaseProbe(CallPermit permit)
    {
    }

    /// <summary>
    /// A failure the store could not record still counts in this process's last known state, with the circuit's own rules:
    /// an environment cut off from a saturated or failing store stops calling a dead dependency at the threshold (and then
    /// rejects as for any OPEN it has seen, reporting OnCircuitOpenedOnLastKnownState) instead of calling it on every request.
    /// </summary>
    /// <param name="context">The call's context.</param>
    /// <param name="failed">Whether the call failed.</param>
    /// <param name="sentAfterRequest">
    /// <see cref="CircuitStoreGateway.RequestsStarted"/> before the last request that carried the failure, if one did: its
    /// answer may land after the call stopped waiting and before this runs, and the failure it holds is then not counted again.
    /// </param>
    public void NoteUnrecorded(ResilienceContext context, bool failed, long sentAfterRequest = long.MaxValue)
    {
        if (failed)
        {
            _failureUnrecorded = Store.UnderPressure;
        }

        if (failed && Store.ApplyLocally(snapshot => CircuitStateMachine.RecordFailure(snapshot, Store.NowMs(), Settings), sentAfterRequest) is { } opened)
        {
            Events.ReportOpenedOnLastKnownState(context, opened);
        }
    }

    /// <summary>A failure of this process reached the store and was answered.</summary>
    protected void NoteRecorded() => _failureUnrecorded = false;

    /// <summary>Records the outcome of a call whose store time is spent: nothing waits for the store.</summary>
    public virtual void RecordWithoutTime(ResilienceContext context, CallPermit permit, bool failed) => NoteUnrecorded(context, failed);

    /// <summary>Decides a call from the last state this process knows, when the store cannot answer.</summary>
    protected abstract CheckDecision DecideWithoutStore(CircuitSnapshot? lastKnown, long now, string? probeOwner);

    /// <summary>The store could not answer: act on the last state this process saw, failing open only when it rejects nothing.</summary>
    protected CallPermit WithoutStore(StoreBudget budget, string? probeOwner, bool holdsLocalProbe)
    {
        var lastKnown = Store.LastKnown;
        var decision = DecideWithoutStore(lastKnown?.Snapshot, Store.NowMs(), probeOwner);
        return decision.Verdict switch
        {
            CheckVerdict.Reject => CallPermit.Rejected(Rejections.Create(decision), observed: null),
            CheckVerdict.ProbeLocally => ProbeLocally(budget, lastKnown!, holdsLocalProbe),
            _ => CallPermit.FailedOpen(Store.Remaining(budget)),
        };
    }

    // The fleet's break has ended and the store has not answered who probes: this process's own circuit takes the
    // half-open window, one probe at a time, with the break the fleet's failed probes have earned. The permit keeps the
    // state the probe was admitted on: only that state is closed by its success.
    private CallPermit ProbeLocally(StoreBudget budget, StoredCircuit admittedOn, bool holdsLocalProbe)
    {
        var permit = CallPermit.FailedOpen(Store.Remaining(budget)) with { Observed = admittedOn, ProbeLocally = true };
        if (holdsLocalProbe)
        {
            return permit;
        }

        return Local.AdmitForFleet(Store.NowMonoMs(), admittedOn.Snapshot.ConsecutiveOpens, out var retryAfterMs) switch
        {
            LocalAdmission.Probe => permit with { LocalProbe = true },
            LocalAdmission.Rejected => CallPermit.Rejected(Rejections.Create(CheckDecision.Reject(retryAfterMs)), observed: null),
            _ => permit,
        };
    }

    protected CallPermit Rejected(CheckDecision decision, StoredCircuit observed) => CallPermit.Rejected(Rejections.Create(decision), observed);

    /// <summary>Who failed and why, recorded in the item by the writer whose failure opens the circuit.</summary>
    protected OpeningCause CauseOf(Outcome<TResult> outcome) => OpeningCause.Of(Settings.EnvironmentId ?? DistributedCircuitBreakerEnvironment.Id, outcome);
}
