namespace Polly.Distributed.CircuitBreaker.Controller;

/// <summary>Store work that no caller waits for (a lease given back, a probe's outcome written again, a read while this process's own circuit rejects), run in a context of its own.</summary>
internal static class DetachedStoreWork
{
    public static async Task RunAsync(Func<ResilienceContext, Task> work)
    {
        var context = ResilienceContextPool.Shared.Get(CancellationToken.None);
        try
        {
            await work(context).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // Store failures are reported by the gateway; a throwing callback has no caller to reach.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }
}
