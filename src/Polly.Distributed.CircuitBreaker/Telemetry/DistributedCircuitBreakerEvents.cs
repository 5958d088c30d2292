namespace Polly.Distributed.CircuitBreaker.Telemetry;

/// <summary>
/// Telemetry event names: Polly's own breaker names plus one for store failures.
/// </summary>
internal static class DistributedCircuitBreakerEvents
{
    public const string OnCircuitOpened = "OnCircuitOpened";
    public const string OnCircuitClosed = "OnCircuitClosed";
    public const string OnCircuitHalfOpened = "OnCircuitHalfOpened";
    public const string OnCircuitStateStoreFailure = "OnCircuitStateStoreFailure";
}
