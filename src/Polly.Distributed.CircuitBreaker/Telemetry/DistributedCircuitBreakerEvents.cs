namespace Polly.Distributed.CircuitBreaker.Telemetry;

/// <summary>
/// Telemetry event names: Polly's own breaker names, one for store failures, two for this process's own circuit, and one
/// for a circuit this process holds open because its own failures, which the store could not count, brought the last
/// count it knew to the threshold.
/// </summary>
internal static class DistributedCircuitBreakerEvents
{
    public const string OnCircuitOpened = "OnCircuitOpened";
    public const string OnCircuitClosed = "OnCircuitClosed";
    public const string OnCircuitHalfOpened = "OnCircuitHalfOpened";
    public const string OnCircuitStateStoreFailure = "OnCircuitStateStoreFailure";
    public const string OnLocalCircuitOpened = "OnLocalCircuitOpened";
    public const string OnLocalCircuitClosed = "OnLocalCircuitClosed";
    public const string OnCircuitOpenedOnLastKnownState = "OnCircuitOpenedOnLastKnownState";
}
