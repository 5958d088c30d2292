using System.Globalization;

namespace Polly.Distributed.CircuitBreaker.Cli.Stores;

/// <summary>Bounds one store request by the tool's <c>--timeout</c>, telling a timeout apart from the operator's Ctrl+C.</summary>
internal static class StoreRequest
{
    public static async Task<T> WithinAsync<T>(TimeSpan timeout, Func<CancellationToken, Task<T>> request, CancellationToken cancellationToken)
    {
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(timeout);
        try
        {
            // WaitAsync: some clients (StackExchange.Redis) take no token, and only their own timeout would end the wait.
            return await request(bounded.Token).WaitAsync(bounded.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"no answer within {Describe(timeout)}", ex);
        }
    }

    /// <summary>Returns a duration as the options take it: "5 s", "500 ms".</summary>
    public static string Describe(TimeSpan duration) =>
        duration.TotalMilliseconds % 1000 == 0
            ? duration.TotalSeconds.ToString(CultureInfo.InvariantCulture) + " s"
            : duration.TotalMilliseconds.ToString(CultureInfo.InvariantCulture) + " ms";
}
