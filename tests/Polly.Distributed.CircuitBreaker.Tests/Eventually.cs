namespace Polly.Distributed.CircuitBreaker.Tests;

/// <summary>Waits for work that no caller waits for (a detached write, a released registration), bounded so that work that never happens fails the test.</summary>
internal static class Eventually
{
    public static async Task TrueAsync(Func<Task<bool>> condition)
    {
        for (var i = 0; i < 1_000 && !await condition(); i++)
        {
            await Task.Delay(10);
        }

        Assert.True(await condition());
    }

    public static Task TrueAsync(Func<bool> condition) => TrueAsync(() => Task.FromResult(condition()));
}
