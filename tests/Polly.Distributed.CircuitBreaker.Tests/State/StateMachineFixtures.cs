using Polly.Distributed.CircuitBreaker.State;

namespace Polly.Distributed.CircuitBreaker.Tests.State;

/// <summary>The settings and states the state machine tests start from.</summary>
internal static class StateMachineFixtures
{
    public const long Now = 1_750_000_000_000;

    public static readonly CircuitBreakerSettings Settings = new(
        FailureThreshold: 5,
        SuccessThreshold: 2,
        BreakDurationMs: 10_000,
        MaxBreakDurationMs: 60_000,
        FailureWindowMs: 60_000,
        ProbeLeaseMs: 30_000);

    public static readonly CircuitSnapshot Closed = CircuitSnapshot.Initial;

    public static readonly CircuitSnapshot HalfOpen = new() { State = StoredCircuitState.HalfOpen, FailureCount = 5, ConsecutiveOpens = 1 };
}
