using Microsoft.Extensions.Logging;

namespace Polly.Distributed.CircuitBreaker.Telemetry;

/// <summary>
/// The breaker's structured log messages.
/// </summary>
internal static partial class DistributedCircuitBreakerLog
{
    [LoggerMessage(
        EventId = 1,
        EventName = "CircuitStateStoreFailure",
        Level = LogLevel.Warning,
        Message = "Circuit state store {Operation} failed for circuit '{CircuitId}'; the breaker acts on the last state this process knows: {Error}")]
    public static partial void StoreFailed(ILogger logger, string circuitId, CircuitStateStoreOperation operation, string error, Exception exception);

    [LoggerMessage(
        EventId = 2,
        EventName = "MalformedCircuitState",
        Level = LogLevel.Warning,
        Message = "The stored state of circuit '{CircuitId}' is malformed ({Reason}); it reads as CLOSED and the next write replaces it")]
    public static partial void MalformedState(ILogger logger, string circuitId, string reason);

    [LoggerMessage(
        EventId = 3,
        EventName = "CircuitEventCallbackFailed",
        Level = LogLevel.Error,
        Message = "The {EventName} callback of circuit '{CircuitId}' threw; it ran after its call had returned, so no caller could receive the error")]
    public static partial void DetachedCallbackFailed(ILogger logger, string circuitId, string eventName, Exception exception);
}
