namespace HttpClientLambda.LocalFleet;

/// <summary>The shape of one run: how many environments, how often each is invoked, and when the downstream dies and heals.</summary>
internal sealed record ScenarioSettings(
    int Environments,
    TimeSpan InvocationInterval,
    TimeSpan HealthyPhase,
    TimeSpan DeadPhase,
    TimeSpan MaxRecoveryPhase,
    TimeSpan TimelineStep);
