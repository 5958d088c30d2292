using Polly.CircuitBreaker;
using Polly.Distributed.CircuitBreaker.Controller;

namespace Polly.Distributed.CircuitBreaker.Strategy;

/// <summary>
/// The distributed circuit breaker in a pipeline: check, call, record. Polly disposes it with its pipeline (a reload, a
/// disposed registry), which releases its manual-control and state-provider registrations.
/// </summary>
/// <typeparam name="TResult">The result type of the pipeline.</typeparam>
internal sealed class DistributedCircuitBreakerResilienceStrategy<TResult> : ResilienceStrategy<TResult>, IDisposable
{
    private readonly Func<CircuitBreakerPredicateArguments<TResult>, ValueTask<bool>> _shouldHandle;
    private readonly DistributedCircuitController<TResult> _controller;
    private readonly IDisposable? _manualControlRegistration;
    private readonly IDisposable? _stateProviderRegistration;

    public DistributedCircuitBreakerResilienceStrategy(
        Func<CircuitBreakerPredicateArguments<TResult>, ValueTask<bool>> shouldHandle,
        DistributedCircuitController<TResult> controller,
        IDisposable? manualControlRegistration,
        IDisposable? stateProviderRegistration)
    {
        _shouldHandle = shouldHandle;
        _controller = controller;
        _manualControlRegistration = manualControlRegistration;
        _stateProviderRegistration = stateProviderRegistration;
    }

    /// <summary>Gets the controller, for hosts that check and record in separate requests (the sidecar).</summary>
    internal DistributedCircuitController<TResult> Controller => _controller;

    public void Dispose()
    {
        _manualControlRegistration?.Dispose();
        _stateProviderRegistration?.Dispose();
    }

    protected override ValueTask<Outcome<TResult>> ExecuteCore<TState>(
        Func<ResilienceContext, TState, ValueTask<Outcome<TResult>>> callback,
        ResilienceContext context,
        TState state)
    {
        // A check answered at once (a fresh cache, or the in-memory store) costs no async state machine, a rejection none at all.
        var acquiring = _controller.AcquireAsync(context);
        if (!acquiring.IsCompletedSuccessfully)
        {
            return AcquireThenExecuteAsync(acquiring, callback, context, state);
        }

        var permit = acquiring.Result;
        return permit.Rejection is { } rejection
            ? new ValueTask<Outcome<TResult>>(Outcome.FromException<TResult>(rejection))
            : ExecutePermittedAsync(permit, callback, context, state);
    }

    private async ValueTask<Outcome<TResult>> AcquireThenExecuteAsync<TState>(
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

        return permit.Rejection is { } rejection
            ? Outcome.FromException<TResult>(rejection)
            : await ExecutePermittedAsync(permit, callback, context, state).ConfigureAwait(context.ContinueOnCapturedContext);
    }

    // The calls that complete at once (a cached closed circuit, a synchronous callback and predicate, nothing to record)
    // run without any async state machine; each step that does wait continues in the method that awaits it.
    private ValueTask<Outcome<TResult>> ExecutePermittedAsync<TState>(
        CallPermit permit,
        Func<ResilienceContext, TState, ValueTask<Outcome<TResult>>> callback,
        ResilienceContext context,
        TState state)
    {
        var executing = StrategyHelper.ExecuteCallbackSafeAsync(callback, context, state);
        return executing.IsCompletedSuccessfully ? JudgeAndRecordAsync(permit, executing.Result, context) : AwaitCallThenRecordAsync(permit, executing, context);
    }

    private async ValueTask<Outcome<TResult>> AwaitCallThenRecordAsync(CallPermit permit, ValueTask<Outcome<TResult>> executing, ResilienceContext context)
    {
        var outcome = await executing.ConfigureAwait(context.ContinueOnCapturedContext);
        return await JudgeAndRecordAsync(permit, outcome, context).ConfigureAwait(context.ContinueOnCapturedContext);
    }

    private ValueTask<Outcome<TResult>> JudgeAndRecordAsync(CallPermit permit, Outcome<TResult> outcome, ResilienceContext context)
    {
        // A call cancelled by its own caller says nothing about the dependency: it counts as neither success nor failure.
        if (outcome.Exception is OperationCanceledException && context.CancellationToken.IsCancellationRequested)
        {
            return ReleaseProbeThenReturnAsync(permit, outcome, context);
        }

        ValueTask<bool> judging;
        try
        {
            judging = _shouldHandle(new CircuitBreakerPredicateArguments<TResult>(context, outcome));
        }
#pragma warning disable CA1031 // Rethrown by AwaitJudgementThenRecordAsync, after the probe lease is given back.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            judging = ValueTask.FromException<bool>(ex);
        }

        if (!judging.IsCompletedSuccessfully)
        {
            return AwaitJudgementThenRecordAsync(permit, outcome, judging, context);
        }

        var recording = _controller.RecordAsync(context, permit, judging.Result, outcome);
        return recording.IsCompletedSuccessfully ? new ValueTask<Outcome<TResult>>(outcome) : AwaitRecordingAsync(recording, outcome, context);
    }

    private async ValueTask<Outcome<TResult>> AwaitJudgementThenRecordAsync(CallPermit permit, Outcome<TResult> outcome, ValueTask<bool> judging, ResilienceContext context)
    {
        bool failed;
        try
        {
            failed = await judging.ConfigureAwait(context.ContinueOnCapturedContext);
        }
        catch
        {
            // A throwing predicate must not leave the fleet waiting for this call's probe lease to expire.
            await _controller.ReleaseProbeAsync(context, permit).ConfigureAwait(context.ContinueOnCapturedContext);
            throw;
        }

        return await AwaitRecordingAsync(_controller.RecordAsync(context, permit, failed, outcome), outcome, context).ConfigureAwait(context.ContinueOnCapturedContext);
    }

    private static async ValueTask<Outcome<TResult>> AwaitRecordingAsync(ValueTask recording, Outcome<TResult> outcome, ResilienceContext context)
    {
        try
        {
            await recording.ConfigureAwait(context.ContinueOnCapturedContext);
        }
        catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested)
        {
            // The caller gave up while the outcome was being recorded: it still gets the call's own outcome.
        }

        return outcome;
    }

    private async ValueTask<Outcome<TResult>> ReleaseProbeThenReturnAsync(CallPermit permit, Outcome<TResult> outcome, ResilienceContext context)
    {
        await _controller.ReleaseProbeAsync(context, permit).ConfigureAwait(context.ContinueOnCapturedContext);
        return outcome;
    }
}
