namespace Polly.Distributed.CircuitBreaker.Telemetry;

/// <summary>
/// Telemetry event names: Polly's own breaker names, one for store failures, and two for this process's own circuit.
/// </summary>
internal static class DistributedCircuitBreakerEvents
{
    public const string OnCircuitOpened = "OnCircuitOpened";
    public const string OnCircuitClosed = "OnCircuitClosed";
    public const string OnCircuitHalfOpened = "OnCircuitHalfOpened";
    public const string OnCircuitStateStoreFailure = "OnCircuitStateStoreFailure";
    public const string OnLocalCircuitOpened = "OnLocalCircuitOpened";
    public const string OnLocalCircuitClosed = "OnLocalCircuitClosed";
}
