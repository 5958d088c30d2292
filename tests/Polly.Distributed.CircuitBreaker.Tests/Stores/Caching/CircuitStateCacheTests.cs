using System.Runtime.CompilerServices;
using Polly.Distributed.CircuitBreaker.Stores.Caching;

namespace Polly.Distributed.CircuitBreaker.Tests.Stores.Caching;

/// <summary>Entries of circuits no longer used are released, so 20,000 ids over a process's life cost nothing after.</summary>
public class CircuitStateCacheTests
{
    [Fact]
    public void For_TwentyThousandIdsNoLongerUsed_AreReleased()
    {
        var store = new InMemoryCircuitStateStore();
        var live = CircuitStateCache.For(store, "live");

        UseAndDrop(store, 20_000);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        for (var i = 0; i < 2_048; i++)
        {
            Assert.Same(live, CircuitStateCache.For(store, "live"));
        }

        Assert.InRange(CircuitStateCache.CountFor(store), 1, 1_024);
    }

    [Fact]
    public void For_SameStoreAndId_SharesOneEntryWhileInUse()
    {
        var store = new InMemoryCircuitStateStore();

        var first = CircuitStateCache.For(store, "orders");

        Assert.Same(first, CircuitStateCache.For(store, "orders"));
        Assert.NotSame(first, CircuitStateCache.For(new InMemoryCircuitStateStore(), "orders"));
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void UseAndDrop(ICircuitStateStore store, int circuits)
    {
        for (var i = 0; i < circuits; i++)
        {
            CircuitStateCache.For(store, "circuit-" + i).Apply(StoredCircuit.Missing, startedMonoMs: 0, nowMonoMs: 0, fresh: true);
        }
    }
}
