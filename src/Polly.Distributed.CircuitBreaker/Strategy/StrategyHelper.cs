namespace Polly.Distributed.CircuitBreaker.Strategy;

/// <summary>
/// Runs the user's callback so that a synchronous throw becomes an outcome, as Polly's own strategies do.
/// </summary>
internal static class StrategyHelper
{
    public static ValueTask<Outcome<TResult>> ExecuteCallbackSafeAsync<TResult, TState>(
        Func<ResilienceContext, TState, ValueTask<Outcome<TResult>>> callback,
        ResilienceContext context,
        TState state)
    {
        if (context.CancellationToken.IsCancellationRequested)
        {
            return new(Outcome.FromException<TResult>(new OperationCanceledException(context.CancellationToken)));
        }

        try
        {
            var pending = callback(context, state);
            return pending.IsCompleted ? new(pending.Result) : AwaitAsync(pending);
        }
#pragma warning disable CA1031 // The callback's exception is the call's outcome.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            return new(Outcome.FromException<TResult>(ex));
        }

        static async ValueTask<Outcome<TResult>> AwaitAsync(ValueTask<Outcome<TResult>> pending)
        {
            try
            {
                return await pending.ConfigureAwait(false);
            }
#pragma warning disable CA1031 // The callback's exception is the call's outcome.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                return Outcome.FromException<TResult>(ex);
            }
        }
    }
}
