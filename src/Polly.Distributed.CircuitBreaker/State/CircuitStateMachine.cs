namespace Polly.Distributed.CircuitBreaker.State;

/// <summary>
/// The circuit's rules as pure functions: a state, an event and the current time give the next state.
/// No I/O happens here; a <see langword="null"/> next state means nothing changes and nothing is written.
/// </summary>
/// <remarks>
/// The semantics are those of circuitbreaker-lambda v1.x, with two deliberate differences: a success while closed
/// writes nothing, and an outcome that arrives while the circuit is open changes nothing. In atomic mode a half-open
/// circuit is moved only by the call that holds the probe lease (the <c>probeOwner</c> argument below).
/// </remarks>
internal static class CircuitStateMachine
{
    /// <summary>Decides whether a call may pass.</summary>
    /// <param name="current">The stored state.</param>
    /// <param name="now">The current time of this process.</param>
    /// <param name="settings">The breaker's settings.</param>
    /// <param name="probeOwner">The identity this call would hold a lease with.</param>
    /// <param name="leaseFirstSeen">When this process first saw the lease on <paramref name="current"/>, if it did.</param>
    public static CheckDecision Check(CircuitSnapshot current, long now, CircuitBreakerSettings settings, string? probeOwner, long? leaseFirstSeen = null)
    {
        switch (current.State)
        {
            case SharedCircuitState.Open when current.IsIsolated:
                return CheckDecision.Reject(current.NextAttemptUnixMs - now, isolated: true);

            case SharedCircuitState.Open when now < current.NextAttemptUnixMs:
                return CheckDecision.Reject(current.NextAttemptUnixMs - now);

            case SharedCircuitState.Open:
                return CheckDecision.Transition(current with
                {
                    State = SharedCircuitState.HalfOpen,
                    SuccessCount = 0,
                    StateTimestampUnixMs = now,
                    ProbeLeaseOwner = settings.Atomic ? probeOwner : null,
                    ProbeLeaseExpiresUnixMs = settings.Atomic ? now + settings.ProbeLeaseMs : 0,
                    ProbeLeaseEpisode = settings.Atomic ? current.NextAttemptUnixMs : 0,
                });

            // Our own claim, seen again when a retried write reports a conflict with itself: this call is the probe.
            case SharedCircuitState.HalfOpen when settings.Atomic && probeOwner is not null && current.ProbeLeaseOwner == probeOwner:
                return CheckDecision.Allow;

            // A claim writes its expiry and the state timestamp from one clock, so expiry minus timestamp is the lease duration
            // whatever the claimant's clock says: a lease longer than twice this configuration's is corrupt, and taken over by
            // compare-and-set. (Comparing the expiry with this process's clock would read skew as corruption.)
            case SharedCircuitState.HalfOpen when settings.Atomic && HoldsValidLease(current, now, settings, leaseFirstSeen)
                && current.ProbeLeaseExpiresUnixMs - current.StateTimestampUnixMs > 2 * settings.ProbeLeaseMs:
                return CheckDecision.Transition(current with
                {
                    ProbeLeaseOwner = probeOwner,
                    ProbeLeaseExpiresUnixMs = now + settings.ProbeLeaseMs,
                    ProbeLeaseEpisode = current.NextAttemptUnixMs,
                    StateTimestampUnixMs = now,
                });

            case SharedCircuitState.HalfOpen when settings.Atomic && HoldsValidLease(current, now, settings, leaseFirstSeen):
                return CheckDecision.Reject(LeaseLeftMs(current, now, settings, leaseFirstSeen));

            case SharedCircuitState.HalfOpen when settings.Atomic:
                return CheckDecision.ClaimProbe;

            default:
                return CheckDecision.Allow;
        }
    }

    /// <summary>The state after a call whose outcome counts as a failure.</summary>
    public static CircuitSnapshot? RecordFailure(CircuitSnapshot current, long now, CircuitBreakerSettings settings, string? probeOwner)
    {
        if (HoldsStaleLease(current, probeOwner))
        {
            return WithoutLease(current);
        }

        switch (current.State)
        {
            case SharedCircuitState.Closed:
                var failures = Increment(EffectiveFailureCount(current, now, settings));
                var counted = current with { FailureCount = failures, LastFailureUnixMs = now, StateTimestampUnixMs = now };
                return failures >= settings.FailureThreshold ? Open(counted, consecutiveOpens: 0, now, settings) : counted;

            case SharedCircuitState.HalfOpen when !MayMoveHalfOpen(current, settings, probeOwner):
                return null;

            case SharedCircuitState.HalfOpen:
                var failed = current with { FailureCount = Increment(current.FailureCount), LastFailureUnixMs = now };
                return Open(failed, Increment(current.ConsecutiveOpens), now, settings);

            default:
                return null;
        }
    }

    /// <summary>
    /// In atomic mode, what to ask the store for a failure of a closed circuit: a commutative increment that opens the
    /// circuit at the threshold. The store applies it as <see cref="RecordFailure"/> would, in one step.
    /// </summary>
    public static CircuitFailureIncrement FailureIncrement(long now, CircuitBreakerSettings settings, string writeId, CircuitSnapshot? admittedOn = null)
    {
        var windowStart = now - settings.FailureWindowMs;
        return new(writeId, now, windowStart, settings.FailureThreshold, now + BreakDurationMs(0, settings))
        {
            // The count the call was admitted on, when it still counts: a hint that lets a store count and open in one request.
            ExpectedFailureCount = admittedOn is { State: SharedCircuitState.Closed } seen && (seen.LastFailureUnixMs == 0 || seen.LastFailureUnixMs >= windowStart)
                ? seen.FailureCount
                : null,
        };
    }

    /// <summary>
    /// Decides a call when the store cannot answer, from the last state this process saw: an open circuit keeps rejecting
    /// until its next attempt plus one lease (time for the store to answer the half-open claim), and a half-open one whose
    /// lease another call holds (or that half-opened less than a lease ago) keeps rejecting until the lease ends.
    /// Otherwise the call passes (fail open).
    /// </summary>
    public static CheckDecision WithoutStore(CircuitSnapshot? lastKnown, long now, CircuitBreakerSettings settings, string? probeOwner, long? leaseFirstSeen = null)
    {
        switch (lastKnown?.State)
        {
            case SharedCircuitState.Open when lastKnown.IsIsolated:
                return CheckDecision.Reject(lastKnown.NextAttemptUnixMs - now, isolated: true);

            case SharedCircuitState.Open when now < SaturatingAdd(lastKnown.NextAttemptUnixMs, settings.ProbeLeaseMs):
                return CheckDecision.Reject(Math.Max(lastKnown.NextAttemptUnixMs - now, 0));

            case SharedCircuitState.HalfOpen when settings.Atomic && lastKnown.ProbeLeaseOwner != probeOwner && HoldsValidLease(lastKnown, now, settings, leaseFirstSeen):
                return CheckDecision.Reject(LeaseLeftMs(lastKnown, now, settings, leaseFirstSeen));

            // Just half-opened: a claim may be under way that this process cannot see.
            case SharedCircuitState.HalfOpen when settings.Atomic && now < SaturatingAdd(lastKnown.StateTimestampUnixMs, settings.ProbeLeaseMs):
                return CheckDecision.Reject(SaturatingAdd(lastKnown.StateTimestampUnixMs, settings.ProbeLeaseMs) - now);

            default:
                return CheckDecision.Allow;
        }
    }

    /// <summary>The state after a call whose outcome counts as a success.</summary>
    public static CircuitSnapshot? RecordSuccess(CircuitSnapshot current, long now, CircuitBreakerSettings settings, string? probeOwner)
    {
        if (HoldsStaleLease(current, probeOwner))
        {
            return WithoutLease(current);
        }

        if (current.State != SharedCircuitState.HalfOpen || !MayMoveHalfOpen(current, settings, probeOwner))
        {
            return null;
        }

        var successes = Increment(current.SuccessCount);
        if (successes >= settings.SuccessThreshold)
        {
            return Close(current, now);
        }

        return WithoutLease(current with { SuccessCount = successes, StateTimestampUnixMs = now });
    }

    /// <summary>The state after the probe call was cancelled by its caller: the lease is given back.</summary>
    public static CircuitSnapshot? ReleaseProbe(CircuitSnapshot current, long now, string probeOwner) =>
        current.ProbeLeaseOwner == probeOwner
            ? WithoutLease(current with { StateTimestampUnixMs = now })
            : null;

    /// <summary>The state after a manual isolation: open until closed manually.</summary>
    public static CircuitSnapshot Isolate(CircuitSnapshot current, long now) => WithoutLease(current with
    {
        State = SharedCircuitState.Open,
        NextAttemptUnixMs = CircuitSnapshot.IsolatedUntilUnixMs,
        SuccessCount = 0,
        StateTimestampUnixMs = now,
    });

    /// <summary>The state after a close, by the last needed success or manually.</summary>
    public static CircuitSnapshot Close(CircuitSnapshot current, long now) => WithoutLease(current with
    {
        State = SharedCircuitState.Closed,
        FailureCount = 0,
        SuccessCount = 0,
        ConsecutiveOpens = 0,
        NextAttemptUnixMs = current.IsIsolated ? now : current.NextAttemptUnixMs,
        StateTimestampUnixMs = now,
    });

    /// <summary>The failures that count now: none once the failure window has passed since the last one.</summary>
    public static long EffectiveFailureCount(CircuitSnapshot current, long now, CircuitBreakerSettings settings) =>
        current.LastFailureUnixMs > 0 && now - current.LastFailureUnixMs > settings.FailureWindowMs ? 0 : current.FailureCount;

    /// <summary>How long an open circuit rejects after <paramref name="consecutiveOpens"/> failed probes.</summary>
    public static long BreakDurationMs(long consecutiveOpens, CircuitBreakerSettings settings)
    {
        var duration = settings.BreakDurationMs;
        for (var i = 0L; i < consecutiveOpens && duration < settings.MaxBreakDurationMs; i++)
        {
            duration *= 2;
        }

        return Math.Min(duration, settings.MaxBreakDurationMs);
    }

    // Counters saturate: an item at the maximum (a hostile or very old one) must never turn negative and read as malformed.
    private static long Increment(long counter) => counter == long.MaxValue ? long.MaxValue : counter + 1;

    private static long SaturatingAdd(long a, long b) => a > long.MaxValue - b ? long.MaxValue : a + b;

    private static CircuitSnapshot Open(CircuitSnapshot current, long consecutiveOpens, long now, CircuitBreakerSettings settings) =>
        WithoutLease(current with
        {
            State = SharedCircuitState.Open,
            SuccessCount = 0,
            ConsecutiveOpens = consecutiveOpens,
            NextAttemptUnixMs = now + BreakDurationMs(consecutiveOpens, settings),
            StateTimestampUnixMs = now,
        });

    private static bool MayMoveHalfOpen(CircuitSnapshot current, CircuitBreakerSettings settings, string? probeOwner) =>
        !settings.Atomic || (probeOwner is not null && current.ProbeLeaseOwner == probeOwner && InCurrentEpisode(current));

    // A lease is valid until its expiry by this process's clock, and in any case for one lease duration after this process
    // first saw it: a clock that runs ahead of the claimant's must not read a fresh lease as expired and probe again.
    private static bool HoldsValidLease(CircuitSnapshot current, long now, CircuitBreakerSettings settings, long? leaseFirstSeen = null) =>
        current.ProbeLeaseOwner is not null && InCurrentEpisode(current) && LeaseLeftMs(current, now, settings, leaseFirstSeen) > 0;

    private static long LeaseLeftMs(CircuitSnapshot current, long now, CircuitBreakerSettings settings, long? leaseFirstSeen) =>
        Math.Max(current.ProbeLeaseExpiresUnixMs - now, leaseFirstSeen is { } seen ? seen + settings.ProbeLeaseMs - now : 0);

    private static bool InCurrentEpisode(CircuitSnapshot current) =>
        current.State == SharedCircuitState.HalfOpen && current.ProbeLeaseEpisode == current.NextAttemptUnixMs;

    // A probe whose circuit moved on (closed, re-opened, or half-opened again by a process that does not know leases) while
    // it ran finds its own lease still on the item: it removes the lease and moves nothing else.
    private static bool HoldsStaleLease(CircuitSnapshot current, string? probeOwner) =>
        probeOwner is not null && current.ProbeLeaseOwner == probeOwner && !InCurrentEpisode(current);

    private static CircuitSnapshot WithoutLease(CircuitSnapshot snapshot) =>
        snapshot with { ProbeLeaseOwner = null, ProbeLeaseExpiresUnixMs = 0, ProbeLeaseEpisode = 0 };
}
