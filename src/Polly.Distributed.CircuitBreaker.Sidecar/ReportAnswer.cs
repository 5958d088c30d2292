namespace Polly.Distributed.CircuitBreaker.Sidecar;

/// <summary>The answer to a report: the circuit's state after it, and a transition it made.</summary>
internal sealed record ReportAnswer(StoredCircuitState State, string? Transition);
