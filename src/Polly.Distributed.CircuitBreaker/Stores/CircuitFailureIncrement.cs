namespace Polly.Distributed.CircuitBreaker;

/// <summary>
/// A request to count failures of a closed circuit in the store (<see cref="Count"/> of them: a process sends the
/// failures of its concurrent calls as one request), atomically and in one step, and to open the circuit when the count
/// reaches <see cref="FailureThreshold"/>. <see cref="ApplyTo"/> is the rule every store applies.
/// </summary>
/// <remarks>
/// A request that the store receives twice (a client retry after a lost response) must be counted once: stores whose
/// client may retry a write that was applied recognise <see cref="WriteId"/>.
/// </remarks>
/// <param name="WriteId">A unique identity of this request.</param>
/// <param name="NowUnixMs">The time of the failure, epoch milliseconds.</param>
/// <param name="WindowStartUnixMs">Failures before this time no longer count.</param>
/// <param name="FailureThreshold">The failure count at which the circuit opens.</param>
/// <param name="OpenUntilUnixMs">The next attempt time of a circuit this request opens.</param>
public sealed record CircuitFailureIncrement(
    string WriteId,
    long NowUnixMs,
    long WindowStartUnixMs,
    long FailureThreshold,
    long OpenUntilUnixMs)
{
    /// <summary>
    /// Gets the failure count the caller last saw stored for the closed circuit in the current window, or <see langword="null"/>.
    /// Only a hint: a store whose count and opening are separate requests may send one conditional request that counts and
    /// opens when the stored count is exactly this and <see cref="Count"/> more reach <see cref="FailureThreshold"/>, and must apply the
    /// request as <see cref="ApplyTo"/> does whatever the hint says.
    /// </summary>
    public long? LastSeenFailureCount { get; init; }

    /// <summary>Gets how many failures the request counts; at least 1.</summary>
    public long Count
    {
        get => _count;
        init => _count = value >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "A count request carries at least one failure.");
    }

    private readonly long _count = 1;

    /// <summary>
    /// Gets how many distinct environments the failures of a counting episode must come from before the circuit opens (a
    /// quorum); 1, the default, opens on the count alone, and the store then keeps no environment ids.
    /// </summary>
    public int MinimumEnvironments
    {
        get => _minimumEnvironments;
        init => _minimumEnvironments = value >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "At least one environment.");
    }

    /// <summary>Gets the id of the environment whose failures the request counts, or <see langword="null"/> for an anonymous count.</summary>
    public string? EnvironmentId { get; init; }

    /// <summary>Gets the environment to record as the one that opened the circuit, when this request opens it (<c>openedBy</c>).</summary>
    public string? OpenedBy { get; init; }

    /// <summary>Gets what to record as having tipped the opening, when this request opens the circuit (<c>openedReason</c>).</summary>
    public string? OpenedReason { get; init; }

    private readonly int _minimumEnvironments = 1;

    /// <summary>
    /// Gets what a store that opens the circuit in a request of its own after the count calls, once, as soon as this
    /// request's count reached <see cref="FailureThreshold"/> with no quorum to meet (the one request that reaches it, as the
    /// store counts nothing past it) and before it sends the opening, with the
    /// stored state then: the breaker reads that state as the OPEN this request makes, and reports the opening at once
    /// rather than after the opening has waited its turn behind the other requests of a busy item. A store that counts and
    /// opens in one step does not call it. <see langword="null"/> when nobody asks.
    /// </summary>
    public Action<StoredCircuit>? ThresholdReached { get; init; }

    /// <summary>
    /// Applies the request to a stored state, as every store must, as one atomic change:
    /// <list type="number">
    /// <item>If the stored circuit is not closed (a missing item is closed), nothing is written:
    /// <see cref="CircuitIncrementOutcome.NotCounted"/>. Nor if it is closed with a failure count of 0 and a state timestamp
    /// after <see cref="NowUnixMs"/>: it closed (or was reset) after the failure happened, which belongs to the episode that
    /// ended (a count that waited behind a busy store's queue would otherwise reopen a circuit that recovered meanwhile). A store also counts nothing on an item whose failure count or
    /// last failure time it cannot read as numbers; and a store that opens in a request of its own after the count may
    /// count nothing on a closed circuit whose count in the window already reached <see cref="FailureThreshold"/> (with
    /// its quorum), which the breaker reads as open: the request that reached it opens the circuit.</item>
    /// <item>Otherwise the failure count becomes <see cref="Count"/> when the last failure time is not 0 and before
    /// <see cref="WindowStartUnixMs"/>, else the stored count plus <see cref="Count"/> (saturating); the last failure time
    /// and the state timestamp become <see cref="NowUnixMs"/>.</item>
    /// <item>When <see cref="MinimumEnvironments"/> is above 1, the episode's failing environments are kept: emptied when
    /// the count it adds to was 0 (a new episode), then <see cref="EnvironmentId"/> added while fewer than
    /// <see cref="MinimumEnvironments"/> are held.</item>
    /// <item>If the new count is at least <see cref="FailureThreshold"/> and, for a quorum, the episode holds at least
    /// <see cref="MinimumEnvironments"/> environments, the circuit opens until <see cref="OpenUntilUnixMs"/> with no
    /// consecutive opens, no success, no lease and no failing environments, recording <see cref="OpenedBy"/> and
    /// <see cref="OpenedReason"/>: exactly one writer opens it.</item>
    /// </list>
    /// </summary>
    /// <param name="current">The stored state, read as valid.</param>
    /// <returns>The outcome, and the state to store (<see langword="null"/> when nothing is written).</returns>
    public (CircuitIncrementOutcome Outcome, CircuitSnapshot? Next) ApplyTo(CircuitSnapshot current)
    {
        ArgumentNullException.ThrowIfNull(current);
        if (current.State != StoredCircuitState.Closed || PredatesTheEpisode(current))
        {
            return (CircuitIncrementOutcome.NotCounted, null);
        }

        var previous = current.LastFailureUnixMs != 0 && current.LastFailureUnixMs < WindowStartUnixMs ? 0 : current.FailureCount;
        var failures = previous > long.MaxValue - Count ? long.MaxValue : previous + Count;
        var counted = current with { FailureCount = failures, LastFailureUnixMs = NowUnixMs, StateTimestampUnixMs = NowUnixMs };
        if (MinimumEnvironments > 1)
        {
            var environments = previous == 0 ? EnvironmentSet.Empty : current.FailingEnvironments;
            if (EnvironmentId is { } id && environments.Count < MinimumEnvironments)
            {
                environments = environments.With(id);
            }

            counted = counted with { FailingEnvironments = environments };
        }

        if (failures < FailureThreshold || (MinimumEnvironments > 1 && counted.FailingEnvironments.Count < MinimumEnvironments))
        {
            return (CircuitIncrementOutcome.Counted, counted);
        }

        return (CircuitIncrementOutcome.CountedAndOpened, counted with
        {
            State = StoredCircuitState.Open,
            SuccessCount = 0,
            ConsecutiveOpens = 0,
            NextAttemptUnixMs = OpenUntilUnixMs,
            ProbeLeaseOwner = null,
            ProbeLeaseExpiresUnixMs = 0,
            ProbeLeaseEpisode = 0,
            FailingEnvironments = EnvironmentSet.Empty,
            OpenedBy = OpenedBy,
            OpenedReason = OpenedReason,
        });
    }

    /// <summary>
    /// Whether the failures happened before a closed circuit's last change of state (a close, or a reset), with nothing
    /// counted since: they belong to the episode that ended, and count nothing (<see cref="ApplyTo"/>).
    /// </summary>
    /// <param name="current">The stored state.</param>
    /// <returns><see langword="true"/> when the request counts nothing on <paramref name="current"/> for that reason.</returns>
    public bool PredatesTheEpisode(CircuitSnapshot current)
    {
        ArgumentNullException.ThrowIfNull(current);
        return ClosedSince(current, NowUnixMs);
    }

    /// <summary>Whether a circuit is closed with nothing counted since a change of state after <paramref name="unixMs"/>.</summary>
    internal static bool ClosedSince(CircuitSnapshot current, long unixMs) =>
        current.State == StoredCircuitState.Closed && current.FailureCount == 0 && current.StateTimestampUnixMs > unixMs;
}
