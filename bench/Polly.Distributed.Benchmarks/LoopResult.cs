namespace Polly.Distributed.Benchmarks;

/// <summary>What one run of the emulator load's loop measured; the store's figures are <see langword="null"/> for Polly's breaker.</summary>
/// <param name="OpenedAtMs">When each OnOpened event came, fleet-wide, in the whole run.</param>
/// <param name="OpenedWithinFirstBreak">
/// Of those, the ones from the death until the first break ended by the store's clock (an OnOpened is raised when the store's
/// answer arrives, late when requests queue, and a failed probe's is not one within the break), else until it could end (the
/// first OnOpened after the death + the break).
/// </param>
/// <param name="FirstOpenedAfterDeathMs">From the death to the first OnOpened; <see langword="null"/> when none came.</param>
/// <param name="DeadCallsBeforeFirstBreakEnded">Calls that reached the dead dependency from the death until the first break ended (or the heal, if sooner).</param>
/// <param name="MostDeadCallsPerEnvironment">The most of those one environment made.</param>
/// <param name="EnvironmentsWithAtMostTwo">Environments that made at most 2 of those.</param>
/// <param name="ProbesInFirstHalfOpenWindow">Calls that reached the dependency in the break's length from the first break's end (the first opening's stored nextAttempt).</param>
/// <param name="StoreRequestsPerSecond">Store requests started after the first second, per second.</param>
/// <param name="RequestsBySecond">Store requests started in each whole second of the run, with the median time they took and how many were reads and counts.</param>
/// <param name="StoreFailuresAfterFirstSecond">OnStateStoreFailure events after the first second, by operation and error.</param>
/// <param name="TimeoutsPerSecond">Of those, the timeouts in each whole second from the second one on.</param>
/// <param name="AnsweredInTime">Environments with no store failure in the first <see cref="EmulatorLoop.AnsweredWindowMs"/> ms after the death.</param>
/// <param name="MostDeadCallsAnswered">The most calls to the dead dependency (before the first break ended) one of those made.</param>
/// <param name="DeadCallsNotAnswered">The calls the other environments made to the dead dependency in that time.</param>
/// <param name="MostDeadCallsNotAnswered">The most of those one environment made.</param>
/// <param name="HealToFirstSuccessMs">From the heal to the first call that reached the dependency (and succeeded).</param>
internal sealed record LoopResult(
    IReadOnlyList<long> OpenedAtMs,
    int OpenedWithinFirstBreak,
    long? FirstOpenedAfterDeathMs,
    int DeadCallsBeforeFirstBreakEnded,
    int MostDeadCallsPerEnvironment,
    int EnvironmentsWithAtMostTwo,
    int? ProbesInFirstHalfOpenWindow,
    double? StoreRequestsPerSecond,
    IReadOnlyList<SecondOfRequests>? RequestsBySecond,
    IReadOnlyDictionary<string, int>? StoreFailuresAfterFirstSecond,
    IReadOnlyList<int>? TimeoutsPerSecond,
    int? AnsweredInTime,
    int? MostDeadCallsAnswered,
    int? DeadCallsNotAnswered,
    int? MostDeadCallsNotAnswered,
    long? HealToFirstSuccessMs)
{
    public bool OneOpening => OpenedWithinFirstBreak == 1;

    public bool FewProbes => ProbesInFirstHalfOpenWindow <= 10;

    /// <summary>Gets a value indicating whether no two whole seconds in a row after the first had a store timeout.</summary>
    public bool NoSustainedTimeouts => TimeoutsPerSecond is { } perSecond && !perSecond.Zip(perSecond.Skip(1)).Any(pair => pair.First > 0 && pair.Second > 0);

    public bool DeadCallsBounded =>
        DeadCallsBeforeFirstBreakEnded <= Math.Min(EmulatorLoop.Environments * EmulatorLoop.Threshold, EmulatorLoop.DeadCallsBeforeStoreLoadWork)
        && (MostDeadCallsAnswered ?? MostDeadCallsPerEnvironment) <= 2;
}
