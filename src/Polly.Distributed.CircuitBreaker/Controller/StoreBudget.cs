namespace Polly.Distributed.CircuitBreaker.Controller;

/// <summary>
/// The time one protected call may still spend waiting for the store, across every store call it makes, and the
/// caller's token that ends the wait at once.
/// </summary>
/// <param name="Started">The <see cref="TimeProvider.GetTimestamp"/> at which the budget started.</param>
/// <param name="Allowed">The time allowed from <paramref name="Started"/>.</param>
/// <param name="CancellationToken">The caller's token.</param>
internal readonly record struct StoreBudget(long Started, TimeSpan Allowed, CancellationToken CancellationToken)
{
    public TimeSpan Remaining(TimeProvider timeProvider)
    {
        var remaining = Allowed - timeProvider.GetElapsedTime(Started);
        return remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero;
    }
}
