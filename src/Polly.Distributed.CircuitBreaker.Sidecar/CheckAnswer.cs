namespace Polly.Distributed.CircuitBreaker.Sidecar;

/// <summary>The answer to a check: whether the call may go ahead, the circuit's state, a transition this check made, and a probe's token.</summary>
internal sealed record CheckAnswer(bool Allowed, StoredCircuitState State, string? Transition, string? ProbeToken);
