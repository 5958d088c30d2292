using System.Diagnostics;
using Polly.Distributed.CircuitBreaker;

namespace Polly.Distributed.Benchmarks;

/// <summary>
/// The emulator load's "200 x 3": <see cref="Callers"/> callers share one pipeline (one store instance) and each fails
/// <see cref="FailuresPerCaller"/> times at once, the threshold out of reach; every failure should be counted.
/// </summary>
internal static class ConcurrentFailures
{
    public const int Callers = 200;
    public const int FailuresPerCaller = 3;

    /// <summary>Lets store requests the breaker gave up on land before the count is read.</summary>
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(1);

    public static async Task<ConcurrentFailuresResult> RunAsync(Func<ICircuitStateStore> newStore)
    {
        var circuitId = $"concurrent-{Guid.NewGuid():N}";
        var storeFailures = 0;
        var pipeline = new ResiliencePipelineBuilder().AddDistributedCircuitBreaker(new DistributedCircuitBreakerStrategyOptions
        {
            CircuitId = circuitId,
            StateStore = newStore(),
            Consistency = CircuitConsistency.Atomic,
            FailureThreshold = 100_000,
            OnStateStoreFailure = _ =>
            {
                Interlocked.Increment(ref storeFailures);
                return default;
            },
        }).Build();
        var addedMs = new List<double>();
        await FleetRunner.RunTogetherAsync(Enumerable.Range(0, Callers), async _ =>
        {
            for (var i = 0; i < FailuresPerCaller; i++)
            {
                var context = ResilienceContextPool.Shared.Get();
                var started = Stopwatch.GetTimestamp();
                await pipeline.ExecuteOutcomeAsync(static (_, _) => ValueTask.FromResult(Outcome.FromException<int>(new HttpRequestException("dead"))), context, 0);
                var elapsedMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                ResilienceContextPool.Shared.Return(context);
                lock (addedMs)
                {
                    addedMs.Add(elapsedMs);
                }
            }
        });
        await Task.Delay(Settle);
        var stored = (await newStore().ReadAsync(circuitId, CancellationToken.None)).Snapshot.FailureCount;
        addedMs.Sort();
        return new ConcurrentFailuresResult((Callers * FailuresPerCaller) - stored, FleetSimulation.Percentile(addedMs, 0.50), FleetSimulation.Percentile(addedMs, 0.99), storeFailures);
    }
}
