namespace Polly.Distributed.CircuitBreaker.State;

/// <summary>
/// Atomic mode's rules as pure functions: <see cref="CircuitStateMachine"/> with a probe lease, so that a half-open circuit
/// admits one probe fleet-wide and is moved only by the call that holds the lease.
/// </summary>
/// <remarks>
/// A lease belongs to the half-open episode in which it was claimed (its episode is the open circuit's
/// <c>nextAttempt</c>). A claim writes its expiry and the state timestamp from one clock, so expiry minus timestamp is
/// the lease's length whatever the claimant's clock says. A lease is valid until its expiry by this process's clock, and
/// in any case for one lease after this process first saw it (<c>leaseSeenAgoMs</c>): a clock that runs ahead of the
/// claimant's must not read a fresh lease as expired.
/// </remarks>
internal static class ProbeLeaseStateMachine
{
    /// <summary>Decides whether a call may pass; a closed circuit whose count reached the threshold is decided as the OPEN it made.</summary>
    /// <param name="current">The stored state.</param>
    /// <param name="now">The current time of this process.</param>
    /// <param name="settings">The breaker's settings.</param>
    /// <param name="probeOwner">The identity this call would hold a lease with.</param>
    /// <param name="leaseSeenAgoMs">How long ago this process first saw the lease on <paramref name="current"/>, if it did.</param>
    public static CheckDecision Check(CircuitSnapshot current, long now, CircuitBreakerSettings settings, string? probeOwner, long? leaseSeenAgoMs = null)
    {
        current = CircuitStateMachine.OpenedByCount(current, now, settings) ?? current;
        switch (current.State)
        {
            case StoredCircuitState.Open when current.IsIsolated || now < current.NextAttemptUnixMs:
                return CircuitStateMachine.Check(current, now);

            case StoredCircuitState.Open:
                return CheckDecision.Transition(Leased(CircuitStateMachine.HalfOpen(current, now), probeOwner, now, settings));

            // Our own claim, seen again when a retried write reports a conflict with itself: this call is the probe.
            case StoredCircuitState.HalfOpen when probeOwner is not null && current.ProbeLeaseOwner == probeOwner:
                return CheckDecision.Allow;

            // A lease longer than twice this configuration's is corrupt, and taken over by compare-and-set. (Comparing the
            // expiry with this process's clock would read skew as corruption.)
            case StoredCircuitState.HalfOpen when HoldsValidLease(current, now, settings, leaseSeenAgoMs)
                && current.ProbeLeaseExpiresUnixMs - current.StateTimestampUnixMs > 2 * settings.ProbeLeaseMs:
                return CheckDecision.Transition(Leased(current, probeOwner, now, settings));

            case StoredCircuitState.HalfOpen when HoldsValidLease(current, now, settings, leaseSeenAgoMs):
                return CheckDecision.Reject(LeaseLeftMs(current, now, settings, leaseSeenAgoMs));

            case StoredCircuitState.HalfOpen:
                return CheckDecision.ClaimProbe;

            default:
                return CheckDecision.Allow;
        }
    }

    /// <summary>The state after a call whose outcome counts as a failure: a closed circuit counts it, a half-open one re-opens only for the probe.</summary>
    public static CircuitSnapshot? RecordFailure(CircuitSnapshot current, long now, CircuitBreakerSettings settings, string? probeOwner, OpeningCause? cause = null) =>
        HoldsStaleLease(current, probeOwner) ? CircuitStateMachine.WithoutLease(current)
        : current.State == StoredCircuitState.HalfOpen && !MayMoveHalfOpen(current, probeOwner) ? null
        : CircuitStateMachine.RecordFailure(current, now, settings, cause);

    /// <summary>The state after a call whose outcome counts as a success: only the probe moves a half-open circuit.</summary>
    public static CircuitSnapshot? RecordSuccess(CircuitSnapshot current, long now, CircuitBreakerSettings settings, string? probeOwner) =>
        HoldsStaleLease(current, probeOwner) ? CircuitStateMachine.WithoutLease(current)
        : MayMoveHalfOpen(current, probeOwner) ? CircuitStateMachine.RecordSuccess(current, now, settings)
        : null;

    /// <summary>The state after the probe gave its lease back (its call was cancelled or its predicate threw).</summary>
    public static CircuitSnapshot? ReleaseProbe(CircuitSnapshot current, long now, string probeOwner) =>
        current.ProbeLeaseOwner == probeOwner
            ? CircuitStateMachine.WithoutLease(current with { StateTimestampUnixMs = now })
            : null;

    /// <summary>
    /// Decides a call when the store cannot answer, from the last state this process saw (a count at the threshold read as
    /// the OPEN it made): as <see cref="CircuitStateMachine.WithoutStore"/>, and a half-open circuit whose lease another call holds keeps
    /// rejecting until the lease ends; one that half-opened with no lease this process saw rejects for
    /// <paramref name="answerWaitMs"/> (a claim may be under way that this process cannot see), then lets this process
    /// probe for itself.
    /// </summary>
    public static CheckDecision WithoutStore(CircuitSnapshot? lastKnown, long now, CircuitBreakerSettings settings, string? probeOwner, long answerWaitMs, long? leaseSeenAgoMs = null)
    {
        lastKnown = lastKnown is null ? null : CircuitStateMachine.OpenedByCount(lastKnown, now, settings) ?? lastKnown;
        if (lastKnown is not { State: StoredCircuitState.HalfOpen })
        {
            return CircuitStateMachine.WithoutStore(lastKnown, now, answerWaitMs);
        }

        return lastKnown.ProbeLeaseOwner != probeOwner && HoldsValidLease(lastKnown, now, settings, leaseSeenAgoMs)
            ? CheckDecision.Reject(LeaseLeftMs(lastKnown, now, settings, leaseSeenAgoMs))
            : CircuitStateMachine.UntilAnswerWaitEnds(lastKnown.StateTimestampUnixMs, now, answerWaitMs);
    }

    private static CircuitSnapshot Leased(CircuitSnapshot halfOpen, string? probeOwner, long now, CircuitBreakerSettings settings) => halfOpen with
    {
        ProbeLeaseOwner = probeOwner,
        ProbeLeaseExpiresUnixMs = now + settings.ProbeLeaseMs,
        ProbeLeaseEpisode = halfOpen.NextAttemptUnixMs,
        StateTimestampUnixMs = now,
    };

    private static bool MayMoveHalfOpen(CircuitSnapshot current, string? probeOwner) =>
        probeOwner is not null && current.ProbeLeaseOwner == probeOwner && InCurrentEpisode(current);

    private static bool HoldsValidLease(CircuitSnapshot current, long now, CircuitBreakerSettings settings, long? leaseSeenAgoMs) =>
        current.ProbeLeaseOwner is not null && InCurrentEpisode(current) && LeaseLeftMs(current, now, settings, leaseSeenAgoMs) > 0;

    private static long LeaseLeftMs(CircuitSnapshot current, long now, CircuitBreakerSettings settings, long? leaseSeenAgoMs) =>
        Math.Max(current.ProbeLeaseExpiresUnixMs - now, leaseSeenAgoMs is { } seenAgo ? settings.ProbeLeaseMs - seenAgo : 0);

    private static bool InCurrentEpisode(CircuitSnapshot current) =>
        current.State == StoredCircuitState.HalfOpen && current.ProbeLeaseEpisode == current.NextAttemptUnixMs;

    // A probe whose circuit moved on (closed, re-opened, or half-opened again by a process that does not know leases) while
    // it ran finds its own lease still on the item: it removes the lease and moves nothing else.
    private static bool HoldsStaleLease(CircuitSnapshot current, string? probeOwner) =>
        probeOwner is not null && current.ProbeLeaseOwner == probeOwner && !InCurrentEpisode(current);
}
