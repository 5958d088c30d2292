namespace Polly.Distributed.CircuitBreaker.Sidecar;

/// <summary>
/// The answer to a report: the circuit's state after it, a transition it made, and for an open circuit who opened it and
/// why, as the item records.
/// </summary>
internal sealed record ReportAnswer(StoredCircuitState State, string? Transition, string? OpenedBy = null, string? OpenedReason = null);
