using Polly.CircuitBreaker;
using Polly.Distributed.CircuitBreaker.Controller;

namespace Polly.Distributed.CircuitBreaker.Strategy;

/// <summary>
/// The distributed circuit breaker in a pipeline: check, call, record. Polly disposes it with its pipeline (a reload, a
/// disposed registry), which releases its manual-control, state-provider and state-gauge registrations.
/// </summary>
/// <typeparam name="TResult">The result type of the pipeline.</typeparam>
internal sealed class DistributedCircuitBreakerResilienceStrategy<TResult> : ResilienceStrategy<TResult>, IDisposable
{
    private readonly Func<CircuitBreakerPredicateArguments<TResult>, ValueTask<bool>> _shouldHandle;
    private readonly DistributedCircuitController<TResult> _controller;
    private readonly IDisposable? _manualControlRegistration;
    private readonly IDisposable? _stateProviderRegistration;
    private readonly IDisposable _stateMetricsRegistration;

    public DistributedCircuitBreakerResilienceStrategy(
        Func<CircuitBreakerPredicateArguments<TResult>, ValueTask<bool>> shouldHandle,
        DistributedCircuitController<TResult> controller,
        IDisposable? manualControlRegistration,
        IDisposable? stateProviderRegistration,
        IDisposable stateMetricsRegistration)
    {
        _shouldHandle = shouldHandle;
        _controller = controller;
        _manualControlRegistration = manualControlRegistration;
        _stateProviderRegistration = stateProviderRegistration;
        _stateMetricsRegistration = stateMetricsRegistration;
    }

    /// <summary>Gets the controller, for hosts that check and record in separate requests (the sidecar).</summary>
    internal DistributedCircuitController<TResult> Controller => _controller;

    public void Dispose()
    {
        _manualControlRegistration?.Dispose();
        _stateProviderRegistration?.Dispose();
        _stateMetricsRegistration.Dispose();
    }

    protected override ValueTask<Outcome<TResult>> ExecuteCore<TState>(
        Func<ResilienceContext, TState, ValueTask<Outcome<TResult>>> callback,
        ResilienceContext context,
        TState state)
    {
        // The one synchronous fast path: a check answered at once, then a rejection, or a callback, predicate and record
        // that all complete at once, cost no async state machine. Any step that waits hands over to FinishAsync.
        var acquiring = _controller.AcquireAsync(context);
        if (!acquiring.IsCompletedSuccessfully)
        {
            return ExecuteCoreAsync(acquiring, callback, context, state);
        }

        var permit = acquiring.Result;
        if (permit.Rejection is { } rejection)
        {
            return new(Outcome.FromException<TResult>(rejection));
        }

        var executing = StrategyHelper.ExecuteCallbackSafeAsync(callback, context, state);
        if (!executing.IsCompletedSuccessfully)
        {
            return FinishAsync(permit, executing, context);
        }

        var outcome = executing.Result;
        if (IsCancelledByCaller(outcome, context))
        {
            _controller.ReleaseProbe(permit);
            return new(outcome);
        }

        var judging = Judge(outcome, context);
        if (!judging.IsCompletedSuccessfully)
        {
            return FinishAsync(permit, new(outcome), context, judging);
        }

        var recording = _controller.RecordAsync(context, permit, judging.Result, outcome);
        return recording.IsCompletedSuccessfully ? new(outcome) : FinishAsync(permit, new(outcome), context, recording: recording);
    }

    // A call cancelled by its own caller says nothing about the dependency: it counts as neither success nor failure.
    private static bool IsCancelledByCaller(Outcome<TResult> outcome, ResilienceContext context) =>
        outcome.Exception is OperationCanceledException && context.CancellationToken.IsCancellationRequested;

    private async ValueTask<Outcome<TResult>> ExecuteCoreAsync<TState>(
        ValueTask<CallPermit> acquiring,
        Func<ResilienceContext, TState, ValueTask<Outcome<TResult>>> callback,
        ResilienceContext context,
        TState state)
    {
        CallPermit permit;
        try
        {
            permit = await acquiring.ConfigureAwait(context.ContinueOnCapturedContext);
        }
        catch (OperationCanceledException ex) when (context.CancellationToken.IsCancellationRequested)
        {
            // The caller gave up while the breaker waited for the store.
            return Outcome.FromException<TResult>(ex);
        }

        if (permit.Rejection is { } rejection)
        {
            return Outcome.FromException<TResult>(rejection);
        }

        return await FinishAsync(permit, StrategyHelper.ExecuteCallbackSafeAsync(callback, context, state), context).ConfigureAwait(context.ContinueOnCapturedContext);
    }

    /// <summary>The call after its check: its outcome, judged, recorded; a step the fast path already started is awaited, not started again.</summary>
    private async ValueTask<Outcome<TResult>> FinishAsync(
        CallPermit permit,
        ValueTask<Outcome<TResult>> executing,
        ResilienceContext context,
        ValueTask<bool>? judging = null,
        ValueTask? recording = null)
    {
        var captured = context.ContinueOnCapturedContext;
        var outcome = await executing.ConfigureAwait(captured);
        if (IsCancelledByCaller(outcome, context))
        {
            _controller.ReleaseProbe(permit);
            return outcome;
        }

        bool failed;
        try
        {
            failed = judging is { } started ? await started.ConfigureAwait(captured) : await Judge(outcome, context).ConfigureAwait(captured);
        }
        catch
        {
            // A throwing predicate must not leave the fleet waiting for this call's probe lease to expire.
            _controller.ReleaseProbe(permit);
            throw;
        }

        try
        {
            if (recording is { } pending)
            {
                await pending.ConfigureAwait(captured);
            }
            else
            {
                await _controller.RecordAsync(context, permit, failed, outcome).ConfigureAwait(captured);
            }
        }
        catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested)
        {
            // The caller gave up while the outcome was being recorded: it still gets the call's own outcome.
        }

        return outcome;
    }

    private ValueTask<bool> Judge(Outcome<TResult> outcome, ResilienceContext context)
    {
        try
        {
            return _shouldHandle(new CircuitBreakerPredicateArguments<TResult>(context, outcome));
        }
#pragma warning disable CA1031 // Rethrown by FinishAsync, after the probe lease is given back.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            return ValueTask.FromException<bool>(ex);
        }
    }
}
