namespace Polly.Distributed.Benchmarks;

/// <summary>What one run of the quorum simulation measured.</summary>
/// <param name="FleetOpenings">OnOpened events of the shared circuit (from closed, and again after each failed probe); <see langword="null"/> for Polly's breaker.</param>
/// <param name="FleetOpeningsBeforeFirstBreakEnded">Of those, the ones raised before the first break ended: the openings from closed.</param>
/// <param name="LocalOpenings">Openings of an environment's own circuit (OnLocalCircuitOpened; for Polly's breaker, its OnOpened).</param>
/// <param name="HealthyCalls">Calls the healthy environments made, rejected ones included.</param>
/// <param name="HealthyRejections">Calls of the healthy environments that were rejected.</param>
/// <param name="HealthyEnvironmentsRejected">Healthy environments that saw at least one rejection.</param>
/// <param name="MostFailuresPerEpisode">The most failed calls a sick environment made in one closed episode.</param>
/// <param name="ProbesPerSickEnvironment">Per sick environment, its calls that reached the dependency right after a rejection.</param>
/// <param name="ProbeGapsMs">Between a sick environment's first rejection and its first probe, and between its successive probes.</param>
/// <param name="FirstFleetOpeningAfterMs">From the start of the run to the first OnOpened of the shared circuit; <see langword="null"/> when it never opened.</param>
/// <param name="DeadCallsBeforeFirstBreakEnded">Calls that reached the dead dependency before the first break ended (for Polly's breaker, each environment's own).</param>
/// <param name="ProbesInFirstHalfOpenWindow">Calls that reached it in the break that followed.</param>
/// <param name="DeadCalls">Calls that reached the dead dependency in the whole run.</param>
internal sealed record QuorumResult(
    int? FleetOpenings,
    int? FleetOpeningsBeforeFirstBreakEnded,
    long LocalOpenings,
    int HealthyCalls,
    int HealthyRejections,
    int HealthyEnvironmentsRejected,
    int MostFailuresPerEpisode,
    IReadOnlyList<int> ProbesPerSickEnvironment,
    IReadOnlyList<long> ProbeGapsMs,
    long? FirstFleetOpeningAfterMs,
    int DeadCallsBeforeFirstBreakEnded,
    int ProbesInFirstHalfOpenWindow,
    int DeadCalls);
