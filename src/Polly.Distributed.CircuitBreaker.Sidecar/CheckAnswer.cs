namespace Polly.Distributed.CircuitBreaker.Sidecar;

/// <summary>
/// The answer to a check: whether the call may go ahead, the circuit's state, a transition this check made, a probe's
/// token, and for an open circuit who opened it and why, as the item records.
/// </summary>
internal sealed record CheckAnswer(bool Allowed, StoredCircuitState State, string? Transition, string? ProbeToken, string? OpenedBy = null, string? OpenedReason = null);
