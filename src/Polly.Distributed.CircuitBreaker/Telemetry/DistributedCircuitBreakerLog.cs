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
        Message = "Circuit state store {Operation} failed for circuit '{CircuitId}'; the call is let through (fail-open): {Error}")]
    public static partial void StoreFailed(ILogger logger, string circuitId, string operation, string error, Exception exception);

    [LoggerMessage(
        EventId = 2,
        EventName = "MalformedCircuitState",
        Level = LogLevel.Warning,
        Message = "The stored state of circuit '{CircuitId}' is malformed ({Reason}); it reads as CLOSED and the next write replaces it")]
    public static partial void MalformedState(ILogger logger, string circuitId, string reason);
}
