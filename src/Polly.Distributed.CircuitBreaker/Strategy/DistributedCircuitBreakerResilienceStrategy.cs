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
        // The one synchronous fast path: a call rejected on a state known at once costs no async state machine.
        var acquiring = _controller.AcquireAsync(context);
        if (acquiring.IsCompletedSuccessfully)
        {
            var permit = acquiring.Result;
            return permit.Rejection is { } rejection
                ? new ValueTask<Outcome<TResult>>(Outcome.FromException<TResult>(rejection))
                : ExecuteCoreAsync(new ValueTask<CallPermit>(permit), callback, context, state);
        }

        return ExecuteCoreAsync(acquiring, callback, context, state);
    }

    private async ValueTask<Outcome<TResult>> ExecuteCoreAsync<TState>(
        ValueTask<CallPermit> acquiring,
        Func<ResilienceContext, TState, ValueTask<Outcome<TResult>>> callback,
        ResilienceContext context,
        TState state)
    {
        var captured = context.ContinueOnCapturedContext;
        CallPermit permit;
        try
        {
            permit = await acquiring.ConfigureAwait(captured);
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

        var outcome = await StrategyHelper.ExecuteCallbackSafeAsync(callback, context, state).ConfigureAwait(captured);

        // A call cancelled by its own caller says nothing about the dependency: it counts as neither success nor failure.
        if (outcome.Exception is OperationCanceledException && context.CancellationToken.IsCancellationRequested)
        {
            _controller.ReleaseProbe(permit);
            return outcome;
        }

        bool failed;
        try
        {
            failed = await _shouldHandle(new CircuitBreakerPredicateArguments<TResult>(context, outcome)).ConfigureAwait(captured);
        }
        catch
        {
            // A throwing predicate must not leave the fleet waiting for this call's probe lease to expire.
            _controller.ReleaseProbe(permit);
            throw;
        }

        try
        {
            await _controller.RecordAsync(context, permit, failed, outcome).ConfigureAwait(captured);
        }
        catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested)
        {
            // The caller gave up while the outcome was being recorded: it still gets the call's own outcome.
        }

        return outcome;
    }
}
