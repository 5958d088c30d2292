using Microsoft.Extensions.Logging;
using Polly.CircuitBreaker;
using Polly.Distributed.CircuitBreaker.Telemetry;
using Polly.Telemetry;

namespace Polly.Distributed.CircuitBreaker.Controller;

/// <summary>
/// Raises the events and telemetry of a transition this process made: opened, closed, half-opened; during the call that
/// made it, or detached from any call when the store's answer arrived after its call had returned.
/// </summary>
/// <typeparam name="TResult">The result type of the pipeline.</typeparam>
internal sealed class CircuitTransitionEvents<TResult>
{
    private readonly string _circuitId;
    private readonly ResilienceStrategyTelemetry _telemetry;
    private readonly ILogger? _logger;
    private readonly Func<OnCircuitOpenedArguments<TResult>, ValueTask>? _onOpened;
    private readonly Func<OnCircuitClosedArguments<TResult>, ValueTask>? _onClosed;
    private readonly Func<OnCircuitHalfOpenedArguments, ValueTask>? _onHalfOpened;

    public CircuitTransitionEvents(DistributedCircuitBreakerStrategyOptions<TResult> options, ResilienceStrategyTelemetry telemetry)
    {
        _circuitId = options.CircuitId!;
        _telemetry = telemetry;
        _logger = options.Logger;
        _onOpened = options.OnOpened;
        _onClosed = options.OnClosed;
        _onHalfOpened = options.OnHalfOpened;
    }

    /// <summary>
    /// Reports that this process holds the circuit open on its own: failures the store could not count brought the last
    /// count it knew to the threshold. No OnOpened: the fleet's circuit did not open, and the next store answer decides.
    /// </summary>
    public void ReportOpenedOnLastKnownState(ResilienceContext context, CircuitSnapshot opened) =>
        _telemetry.Report(
            new ResilienceEvent(ResilienceEventSeverity.Warning, DistributedCircuitBreakerEvents.OnCircuitOpenedOnLastKnownState),
            context,
            new LastKnownCircuitOpening(_circuitId, opened.FailureCount));

    /// <summary>Raises what the change from <paramref name="before"/> to <paramref name="after"/> means, if anything.</summary>
    public async ValueTask RaiseAsync(
        ResilienceContext context,
        CircuitSnapshot before,
        CircuitSnapshot after,
        Outcome<TResult>? outcome,
        bool manual)
    {
        if (after.State == StoredCircuitState.Open && (before.State != StoredCircuitState.Open || (manual && !before.IsIsolated)))
        {
            var breakDuration = after.IsIsolated ? TimeSpan.MaxValue : TimeSpan.FromMilliseconds(after.NextAttemptUnixMs - after.StateTimestampUnixMs);
            var args = new OnCircuitOpenedArguments<TResult>(context, outcome ?? default, breakDuration, manual);
            Report(ResilienceEventSeverity.Error, DistributedCircuitBreakerEvents.OnCircuitOpened, context, outcome, args);
            if (_onOpened is { } onOpened)
            {
                await onOpened(args).ConfigureAwait(context.ContinueOnCapturedContext);
            }
        }
        else if (after.State == StoredCircuitState.Closed && before.State != StoredCircuitState.Closed)
        {
            var args = new OnCircuitClosedArguments<TResult>(context, outcome ?? default, manual);
            Report(ResilienceEventSeverity.Information, DistributedCircuitBreakerEvents.OnCircuitClosed, context, outcome, args);
            if (_onClosed is { } onClosed)
            {
                await onClosed(args).ConfigureAwait(context.ContinueOnCapturedContext);
            }
        }
        else if (after.State == StoredCircuitState.HalfOpen && before.State == StoredCircuitState.Open)
        {
            var args = new OnCircuitHalfOpenedArguments(context);
            _telemetry.Report(new ResilienceEvent(ResilienceEventSeverity.Warning, DistributedCircuitBreakerEvents.OnCircuitHalfOpened), context, args);
            if (_onHalfOpened is { } onHalfOpened)
            {
                await onHalfOpened(args).ConfigureAwait(context.ContinueOnCapturedContext);
            }
        }
    }

    /// <summary>
    /// Raises a transition whose store answer arrived after its call had returned (a count that opened the circuit, a
    /// half-open claim that landed). No caller is left to receive a callback's exception: it is logged.
    /// </summary>
    public async Task RaiseDetachedAsync(CircuitSnapshot before, CircuitSnapshot after)
    {
        var context = ResilienceContextPool.Shared.Get(CancellationToken.None);
        try
        {
            await RaiseAsync(context, before, after, outcome: null, manual: false).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // No caller is left to receive the user callback's exception: it is logged.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            if (_logger is not null)
            {
                var name = after.State switch
                {
                    StoredCircuitState.Open => nameof(DistributedCircuitBreakerStrategyOptions<TResult>.OnOpened),
                    StoredCircuitState.HalfOpen => nameof(DistributedCircuitBreakerStrategyOptions<TResult>.OnHalfOpened),
                    _ => nameof(DistributedCircuitBreakerStrategyOptions<TResult>.OnClosed),
                };
                DistributedCircuitBreakerLog.DetachedCallbackFailed(_logger, _circuitId, name, ex);
            }
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
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
