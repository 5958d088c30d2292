using System.Globalization;
using Polly.CircuitBreaker;
using Polly.Distributed.CircuitBreaker;
using Polly.Distributed.CircuitBreaker.Stores.Caching;

namespace Polly.Distributed.Benchmarks;

/// <summary>
/// Bytes a breaker and a cached circuit keep alive (retained heap after a full collection, averaged over many), beside
/// Polly's breaker; and that a process which builds breakers for 20,000 distinct circuit ids over its life keeps only
/// those still in use.
/// </summary>
internal static class MemoryFootprint
{
    private const int Breakers = 2_000;
    private const int DistinctCircuits = 20_000;

    public static int Run(TextWriter output)
    {
        // 20,000 distinct circuit ids over the life of a process, 100 in use at any time (per-host pipelines, reloads).
        var lifetime = new InMemoryCircuitStateStore();
        var inUse = new ResiliencePipeline[100];
        var before = GC.GetTotalMemory(forceFullCollection: true);
        for (var i = 0; i < DistinctCircuits; i++)
        {
            inUse[i % inUse.Length] = Distributed(lifetime, $"host-{i}", TimeSpan.FromMinutes(1));
            inUse[i % inUse.Length].Execute(static () => { });
            if (i % 2_000 == 0)
            {
                GC.Collect();
            }
        }

        var after = GC.GetTotalMemory(forceFullCollection: true);
        output.WriteLine(
            $"{DistinctCircuits:N0} distinct circuit ids built over time, 100 in use: the process cache holds {CircuitStateCache.CountFor(lifetime):N0} entries " +
            $"(collected ones are swept every 1,024 lookups); the retained heap grew by {(after - before) / 1024:N0} KiB.");
        GC.KeepAlive(inUse);
        output.WriteLine();
        var store = new InMemoryCircuitStateStore();
        var polly = Retained(Breakers, i => new ResiliencePipelineBuilder().AddCircuitBreaker(new CircuitBreakerStrategyOptions()).Build());
        var distributed = Retained(Breakers, i => Distributed(store, $"circuit-{i}", TimeSpan.Zero));
        var cacheStore = new InMemoryCircuitStateStore();
        var cachedCircuit = Retained(DistinctCircuits, i =>
        {
            var state = CircuitStateCache.For(cacheStore, $"cached-{i}");
            state.Apply(StoredCircuit.Missing, startedMonoMs: 0, nowMonoMs: 0, fresh: true);
            return state;
        });

        output.WriteLine("| what | retained bytes each |");
        output.WriteLine("|---|---|");
        output.WriteLine($"| pipeline with Polly's circuit breaker | {polly.ToString("N0", CultureInfo.InvariantCulture)} |");
        output.WriteLine($"| pipeline with the distributed breaker (no cache) | {distributed.ToString("N0", CultureInfo.InvariantCulture)} |");
        output.WriteLine($"| one circuit in the process cache (entry, weak reference, dictionary slot) | {cachedCircuit.ToString("N0", CultureInfo.InvariantCulture)} |");

        return 0;
    }

    private static long Retained<T>(int count, Func<int, T> create)
    {
        var keep = new T[count];
        var before = GC.GetTotalMemory(forceFullCollection: true);
        for (var i = 0; i < count; i++)
        {
            keep[i] = create(i);
        }

        var after = GC.GetTotalMemory(forceFullCollection: true);
        GC.KeepAlive(keep);
        return (after - before) / count;
    }

    private static ResiliencePipeline Distributed(ICircuitStateStore store, string circuitId, TimeSpan cacheTtl) =>
        new ResiliencePipelineBuilder()
            .AddDistributedCircuitBreaker(new DistributedCircuitBreakerStrategyOptions { CircuitId = circuitId, StateStore = store, CacheTtl = cacheTtl })
            .Build();
}
