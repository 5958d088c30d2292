namespace Polly.Distributed.CircuitBreaker.State;

/// <summary>
/// The validated options the state machines need, with durations in milliseconds.
/// </summary>
internal sealed record CircuitBreakerSettings(
    int FailureThreshold,
    int SuccessThreshold,
    long BreakDurationMs,
    long MaxBreakDurationMs,
    long FailureWindowMs,
    long ProbeLeaseMs,
    int MinimumFailingEnvironments = 1,
    string? EnvironmentId = null);
