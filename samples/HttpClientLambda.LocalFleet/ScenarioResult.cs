namespace HttpClientLambda.LocalFleet;

/// <summary>What one scenario measured.</summary>
/// <param name="Setup">The breaker.</param>
/// <param name="CallsDuringOutage">Downstream calls that arrived while it was dead.</param>
/// <param name="CallsDuringRecovery">Downstream calls from the heal until every environment succeeded again.</param>
/// <param name="TimeToRecover">From the heal until every environment succeeded again; null when that did not happen in time.</param>
/// <param name="RejectedCalls">Invocations the breaker rejected.</param>
/// <param name="DownstreamCalls">When each call reached the downstream, from the start of the run.</param>
/// <param name="KilledAt">When the downstream died, from the start of the run.</param>
/// <param name="HealedAt">When it healed, from the start of the run.</param>
internal sealed record ScenarioResult(
    BreakerSetup Setup,
    int CallsDuringOutage,
    int CallsDuringRecovery,
    TimeSpan? TimeToRecover,
    int RejectedCalls,
    IReadOnlyList<TimeSpan> DownstreamCalls,
    TimeSpan KilledAt,
    TimeSpan HealedAt);
