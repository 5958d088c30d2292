using Polly.CircuitBreaker;
using Polly.Distributed.CircuitBreaker.State;
using Polly.Telemetry;

namespace Polly.Distributed.CircuitBreaker.Controller;

/// <summary>
/// Makes the exception a rejected call returns: Polly's <see cref="BrokenCircuitException"/> with the time until the next
/// attempt, or <see cref="IsolatedCircuitException"/> for a circuit isolated manually.
/// </summary>
internal sealed class CircuitRejections
{
    // A foreign item may hold any nextAttempt: RetryAfter stays representable.
    private const long MaxRetryAfterMs = 365L * 24 * 60 * 60 * 1000;

    private readonly ResilienceStrategyTelemetry _telemetry;

    // The messages are built once: a rejection is the hot path of an open circuit.
    private readonly string _openMessage;
    private readonly string _isolatedMessage;

    public CircuitRejections(string circuitId, ResilienceStrategyTelemetry telemetry)
    {
        _telemetry = telemetry;
        _openMessage = $"The circuit '{circuitId}' is open; calls are rejected until its next attempt (RetryAfter).";
        _isolatedMessage = $"The circuit '{circuitId}' is isolated manually; calls are rejected until it is closed.";
    }

    public BrokenCircuitException Create(CheckDecision decision) => decision.Isolated ? Isolated() : Open(decision.RetryAfterMs);

    public BrokenCircuitException Isolated() => WithSource(new IsolatedCircuitException(_isolatedMessage));

    private BrokenCircuitException Open(long retryAfterMs) =>
        WithSource(new BrokenCircuitException(_openMessage, TimeSpan.FromMilliseconds(Math.Min(retryAfterMs, MaxRetryAfterMs))));

    private BrokenCircuitException WithSource(BrokenCircuitException exception)
    {
        _telemetry.SetTelemetrySource(exception);
        return exception;
    }
}
