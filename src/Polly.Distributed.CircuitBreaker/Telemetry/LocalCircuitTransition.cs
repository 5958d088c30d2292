namespace Polly.Distributed.CircuitBreaker.Telemetry;

/// <summary>The arguments of a telemetry event about this process's own circuit: which circuit, and the state it entered.</summary>
internal readonly record struct LocalCircuitTransition(string CircuitId, LocalCircuitState State);
