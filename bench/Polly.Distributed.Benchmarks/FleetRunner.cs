namespace Polly.Distributed.Benchmarks;

/// <summary>Starts the environments of a simulated fleet together, each on a thread-pool task of its own.</summary>
internal static class FleetRunner
{
    public static async Task RunTogetherAsync<TEnvironment>(IEnumerable<TEnvironment> fleet, Func<TEnvironment, Task> run)
    {
        using var start = new ManualResetEventSlim();
        var environments = fleet.Select(environment => Task.Run(async () =>
        {
            start.Wait();
            await run(environment);
        })).ToArray();
        start.Set();
        await Task.WhenAll(environments);
    }
}
