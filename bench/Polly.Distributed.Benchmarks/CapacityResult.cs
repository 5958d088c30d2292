namespace Polly.Distributed.Benchmarks;

/// <summary>What one capacity run measured, from the dependency's death to the end of the run.</summary>
/// <param name="ReadsPerSecond">Read requests that reached the item (served or refused); <see langword="null"/> without a store.</param>
/// <param name="WritesPerSecond">Write requests that reached the item (served or refused).</param>
/// <param name="RefusedShare">The share of those requests the store refused (throttled, or timed out in its queue).</param>
/// <param name="DeadCallsBeforeFirstBreakEnded">Calls that reached the dead dependency before the first opening's break ended (for Polly's breaker: before each environment's own).</param>
/// <param name="DeadCalls">All calls that reached the dead dependency.</param>
/// <param name="MostDeadCallsOfOneEnvironment">The most calls one environment made to the dead dependency.</param>
/// <param name="Opened">OnOpened events, fleet-wide.</param>
/// <param name="LocalOpenings">Openings of an environment's own circuit (telemetry event OnLocalCircuitOpened).</param>
/// <param name="RejectedAfterProbeSucceeded">Calls rejected after a probe had reached the healed dependency, to the end of the run.</param>
/// <param name="ProbesPerWindow">
/// Calls that reached the dependency in each half-open window, in order, from environments that knew the circuit had opened
/// (for Polly's breaker: in each environment's own windows, by their order).
/// </param>
/// <param name="UntilRejected">Per environment, from the death (or its start) to its first rejected call; <see langword="null"/> when it had none.</param>
/// <param name="OpenSeenInRead">Environments that first saw the circuit OPEN in the answer to a read.</param>
/// <param name="OpenSeenInWrite">Environments that first saw the circuit OPEN in the answer to a write of their own (a failure count, a claim).</param>
/// <param name="Timeline">Second by second, from one second before the death to the end.</param>
/// <param name="RunTime">Wall-clock time of the run.</param>
internal sealed record CapacityResult(
    double? ReadsPerSecond,
    double? WritesPerSecond,
    double? RefusedShare,
    long DeadCallsBeforeFirstBreakEnded,
    long DeadCalls,
    int MostDeadCallsOfOneEnvironment,
    long Opened,
    long? LocalOpenings,
    long? RejectedAfterProbeSucceeded,
    IReadOnlyList<long> ProbesPerWindow,
    IReadOnlyList<TimeSpan?> UntilRejected,
    int? OpenSeenInRead,
    int? OpenSeenInWrite,
    IReadOnlyList<CapacitySecond> Timeline,
    TimeSpan RunTime);
