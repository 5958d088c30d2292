using Polly.CircuitBreaker;
using Polly.Distributed.CircuitBreaker.Telemetry;
using Polly.Telemetry;

namespace Polly.Distributed.CircuitBreaker.Controller;

/// <summary>
/// Raises the events and telemetry of a transition this process made: opened, closed, half-opened.
/// </summary>
/// <typeparam name="TResult">The result type of the pipeline.</typeparam>
internal sealed class CircuitTransitionEvents<TResult>
{
    private readonly ResilienceStrategyTelemetry _telemetry;
    private readonly Func<OnCircuitOpenedArguments<TResult>, ValueTask>? _onOpened;
    private readonly Func<OnCircuitClosedArguments<TResult>, ValueTask>? _onClosed;
    private readonly Func<OnCircuitHalfOpenedArguments, ValueTask>? _onHalfOpened;

    public CircuitTransitionEvents(DistributedCircuitBreakerStrategyOptions<TResult> options, ResilienceStrategyTelemetry telemetry)
    {
        _telemetry = telemetry;
        _onOpened = options.OnOpened;
        _onClosed = options.OnClosed;
        _onHalfOpened = options.OnHalfOpened;
    }

    /// <summary>Raises what the change from <paramref name="before"/> to <paramref name="after"/> means, if anything.</summary>
    public async ValueTask RaiseAsync(
        ResilienceContext context,
        CircuitSnapshot before,
        CircuitSnapshot after,
        Outcome<TResult>? outcome,
        bool manual)
    {
        if (after.State == SharedCircuitState.Open && (before.State != SharedCircuitState.Open || (manual && !before.IsIsolated)))
        {
            var breakDuration = after.IsIsolated ? TimeSpan.MaxValue : TimeSpan.FromMilliseconds(after.NextAttemptUnixMs - after.StateTimestampUnixMs);
            var args = new OnCircuitOpenedArguments<TResult>(context, outcome ?? default, breakDuration, manual);
            Report(ResilienceEventSeverity.Error, DistributedCircuitBreakerEvents.OnCircuitOpened, context, outcome, args);
            if (_onOpened is { } onOpened)
            {
                await onOpened(args).ConfigureAwait(context.ContinueOnCapturedContext);
            }
        }
        else if (after.State == SharedCircuitState.Closed && before.State != SharedCircuitState.Closed)
        {
            var args = new OnCircuitClosedArguments<TResult>(context, outcome ?? default, manual);
            Report(ResilienceEventSeverity.Information, DistributedCircuitBreakerEvents.OnCircuitClosed, context, outcome, args);
            if (_onClosed is { } onClosed)
            {
                await onClosed(args).ConfigureAwait(context.ContinueOnCapturedContext);
            }
        }
        else if (after.State == SharedCircuitState.HalfOpen && before.State == SharedCircuitState.Open)
        {
            var args = new OnCircuitHalfOpenedArguments(context);
            _telemetry.Report(new ResilienceEvent(ResilienceEventSeverity.Warning, DistributedCircuitBreakerEvents.OnCircuitHalfOpened), context, args);
            if (_onHalfOpened is { } onHalfOpened)
            {
                await onHalfOpened(args).ConfigureAwait(context.ContinueOnCapturedContext);
            }
        }
    }

    private void Report<TArgs>(ResilienceEventSeverity severity, string name, ResilienceContext context, Outcome<TResult>? outcome, TArgs args)
    {
        if (outcome is { } value)
        {
            _telemetry.Report(new ResilienceEvent(severity, name), context, value, args);
        }
        else
        {
            _telemetry.Report(new ResilienceEvent(severity, name), context, args);
        }
    }
}
