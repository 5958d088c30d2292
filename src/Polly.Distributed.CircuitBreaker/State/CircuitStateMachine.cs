namespace Polly.Distributed.CircuitBreaker.State;

/// <summary>
/// The circuit's rules as pure functions, as every writer applies them: a state, an event and the current time give the
/// next state. No I/O happens here; a <see langword="null"/> next state means nothing changes and nothing is written.
/// </summary>
/// <remarks>
/// These are the semantics of circuitbreaker-lambda v1.x, which last-writer-wins mode follows as they are, with two
/// deliberate differences: a success while closed writes nothing, and an outcome that arrives while the circuit is open
/// changes nothing. Atomic mode adds a probe lease on top of them (<see cref="ProbeLeaseStateMachine"/>).
/// </remarks>
internal static class CircuitStateMachine
{
    /// <summary>Decides whether a call may pass.</summary>
    public static CheckDecision Check(CircuitSnapshot current, long now) => current.State switch
    {
        StoredCircuitState.Open when current.IsIsolated => CheckDecision.Reject(current.NextAttemptUnixMs - now, isolated: true),
        StoredCircuitState.Open when now < current.NextAttemptUnixMs => CheckDecision.Reject(current.NextAttemptUnixMs - now),
        StoredCircuitState.Open => CheckDecision.Transition(HalfOpen(current, now)),
        _ => CheckDecision.Allow,
    };

    /// <summary>The state after a call whose outcome counts as a failure.</summary>
    /// <param name="current">The stored state.</param>
    /// <param name="now">The current time of this process.</param>
    /// <param name="settings">The breaker's settings.</param>
    /// <param name="cause">Who failed and why, recorded in the item if the failure opens the circuit.</param>
    public static CircuitSnapshot? RecordFailure(CircuitSnapshot current, long now, CircuitBreakerSettings settings, OpeningCause? cause = null)
    {
        switch (current.State)
        {
            case StoredCircuitState.Closed:
                // The state was just read (or is the last known): a failure seen after it counts, even where the clock
                // of the process that closed it runs ahead of this one's.
                var increment = FailureIncrement(now, settings, writeId: string.Empty, cause: cause);
                return (increment.PredatesTheEpisode(current) ? FailureIncrement(current.StateTimestampUnixMs, settings, string.Empty, cause: cause) : increment)
                    .ApplyTo(current).Next;

            case StoredCircuitState.HalfOpen:
                var failed = current with { FailureCount = Increment(current.FailureCount), LastFailureUnixMs = now };
                return Open(failed, Increment(current.ConsecutiveOpens), now, settings, cause);

            default:
                return null;
        }
    }

    /// <summary>
    /// A failure of a closed circuit as one commutative count that opens the circuit at the threshold: atomic mode sends it
    /// to the store, which applies it in one step; last-writer-wins mode applies it to the state it read.
    /// </summary>
    public static CircuitFailureIncrement FailureIncrement(
        long now,
        CircuitBreakerSettings settings,
        string writeId,
        CircuitSnapshot? admittedOn = null,
        string? environmentId = null,
        OpeningCause? cause = null)
    {
        var windowStart = now - settings.FailureWindowMs;
        return new(writeId, now, windowStart, settings.FailureThreshold, now + BreakDurationMs(0, settings))
        {
            OpenedBy = cause?.OpenedBy,
            OpenedReason = cause?.Reason,
            MinimumEnvironments = settings.MinimumFailingEnvironments,
            EnvironmentId = settings.MinimumFailingEnvironments > 1 ? environmentId : null,
            // The count the call was admitted on, when it still counts: a hint that lets a store count and open in one request.
            LastSeenFailureCount = admittedOn is { State: StoredCircuitState.Closed } seen && (seen.LastFailureUnixMs == 0 || seen.LastFailureUnixMs >= windowStart)
                ? seen.FailureCount
                : null,
        };
    }

    /// <summary>
    /// The OPEN that a closed circuit's count made when the count reached the threshold in its window (and, with a quorum,
    /// holds its environments): open from its last failure for one break. A store that counts and opens in two requests
    /// shows such a count between them, for as long as its queue holds the opening; atomic mode acts on it as that OPEN,
    /// whether or not the opening lands. <see langword="null"/> for any other state.
    /// </summary>
    public static CircuitSnapshot? OpenedByCount(CircuitSnapshot current, long now, CircuitBreakerSettings settings) =>
        current.State == StoredCircuitState.Closed
        && current.FailureCount >= settings.FailureThreshold
        && current.LastFailureUnixMs > 0
        && now - current.LastFailureUnixMs <= settings.FailureWindowMs
        && (settings.MinimumFailingEnvironments <= 1 || current.FailingEnvironments.Count >= settings.MinimumFailingEnvironments)
            ? Open(current, consecutiveOpens: 0, current.LastFailureUnixMs, settings) with { FailingEnvironments = EnvironmentSet.Empty }
            : null;

    /// <summary>The state after a call whose outcome counts as a success.</summary>
    public static CircuitSnapshot? RecordSuccess(CircuitSnapshot current, long now, CircuitBreakerSettings settings)
    {
        if (current.State != StoredCircuitState.HalfOpen)
        {
            return null;
        }

        var successes = Increment(current.SuccessCount);
        return successes >= settings.SuccessThreshold
            ? Close(current, now)
            : WithoutLease(current with { SuccessCount = successes, StateTimestampUnixMs = now });
    }

    /// <summary>
    /// Decides a call when the store cannot answer, from the last state this process saw: an open circuit keeps rejecting
    /// until its next attempt plus <paramref name="answerWaitMs"/> (time for the store to answer this process's half-open
    /// write or claim), then lets this process probe for itself. Otherwise the call passes (fail open).
    /// </summary>
    /// <param name="lastKnown">The last state this process saw, or <see langword="null"/>.</param>
    /// <param name="now">The current time of this process.</param>
    /// <param name="answerWaitMs">How long this process waits for the store to answer it once before it probes for itself.</param>
    public static CheckDecision WithoutStore(CircuitSnapshot? lastKnown, long now, long answerWaitMs) => lastKnown switch
    {
        { State: StoredCircuitState.Open, IsIsolated: true } => CheckDecision.Reject(lastKnown.NextAttemptUnixMs - now, isolated: true),
        { State: StoredCircuitState.Open } => UntilAnswerWaitEnds(lastKnown.NextAttemptUnixMs, now, answerWaitMs),
        _ => CheckDecision.Allow,
    };

    /// <summary>Rejects until <paramref name="answerWaitMs"/> past <paramref name="from"/>, then lets this process probe for itself.</summary>
    public static CheckDecision UntilAnswerWaitEnds(long from, long now, long answerWaitMs)
    {
        var waitEnds = SaturatingAdd(from, answerWaitMs);
        return now < waitEnds ? CheckDecision.Reject(waitEnds - now) : CheckDecision.ProbeLocally;
    }

    /// <summary>
    /// Stamps a last-writer-wins write as newer than the state it was computed from, whatever this process's clock says: a
    /// store skips a write older than what it holds, and a process whose clock runs behind must still be able to move
    /// the state it read.
    /// </summary>
    public static CircuitSnapshot OrderedAfter(CircuitSnapshot next, CircuitSnapshot readFrom) =>
        next.StateTimestampUnixMs > readFrom.StateTimestampUnixMs
            ? next
            : next with { StateTimestampUnixMs = SaturatingAdd(readFrom.StateTimestampUnixMs, 1) };

    /// <summary>The state after a manual isolation: open until closed manually.</summary>
    public static CircuitSnapshot Isolate(CircuitSnapshot current, long now) => WithoutLease(current with
    {
        State = StoredCircuitState.Open,
        NextAttemptUnixMs = CircuitSnapshot.IsolatedUntilUnixMs,
        SuccessCount = 0,
        StateTimestampUnixMs = now,
    });

    /// <summary>The state after a close, by the last needed success or manually.</summary>
    public static CircuitSnapshot Close(CircuitSnapshot current, long now) => WithoutLease(current with
    {
        State = StoredCircuitState.Closed,
        FailureCount = 0,
        SuccessCount = 0,
        ConsecutiveOpens = 0,
        NextAttemptUnixMs = current.IsIsolated ? now : current.NextAttemptUnixMs,
        StateTimestampUnixMs = now,
    });

    /// <summary>The state of an open circuit whose break has ended, before its probe.</summary>
    public static CircuitSnapshot HalfOpen(CircuitSnapshot current, long now) => WithoutLease(current with
    {
        State = StoredCircuitState.HalfOpen,
        SuccessCount = 0,
        StateTimestampUnixMs = now,
    });

    /// <summary>The state after an opening, with the break that <paramref name="consecutiveOpens"/> earns.</summary>
    public static CircuitSnapshot Open(CircuitSnapshot current, long consecutiveOpens, long now, CircuitBreakerSettings settings, OpeningCause? cause = null) =>
        WithoutLease(current with
        {
            OpenedBy = cause is null ? current.OpenedBy : cause.OpenedBy,
            OpenedReason = cause is null ? current.OpenedReason : cause.Reason,
            State = StoredCircuitState.Open,
            SuccessCount = 0,
            ConsecutiveOpens = consecutiveOpens,
            NextAttemptUnixMs = now + BreakDurationMs(consecutiveOpens, settings),
            StateTimestampUnixMs = now,
        });

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

    /// <summary>Removes the probe lease attributes.</summary>
    public static CircuitSnapshot WithoutLease(CircuitSnapshot snapshot) =>
        snapshot.ProbeLeaseOwner is null && snapshot.ProbeLeaseExpiresUnixMs == 0 && snapshot.ProbeLeaseEpisode == 0
            ? snapshot
            : snapshot with { ProbeLeaseOwner = null, ProbeLeaseExpiresUnixMs = 0, ProbeLeaseEpisode = 0 };

    // Counters saturate: an item at the maximum (a hostile or very old one) must never turn negative and read as malformed.
    public static long Increment(long counter) => counter == long.MaxValue ? long.MaxValue : counter + 1;

    public static long SaturatingAdd(long a, long b) => a > long.MaxValue - b ? long.MaxValue : a + b;
}
