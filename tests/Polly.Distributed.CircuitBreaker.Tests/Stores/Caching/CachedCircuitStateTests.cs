using Polly.Distributed.CircuitBreaker.Stores.Caching;

namespace Polly.Distributed.CircuitBreaker.Tests.Stores.Caching;

public class CachedCircuitStateTests
{
    private static readonly CircuitStateEntry Closed = new(CircuitSnapshot.Initial, true, null);
    private static readonly CircuitStateEntry Open = new(new CircuitSnapshot { State = SharedCircuitState.Open }, true, null);

    [Fact]
    public async Task ReadSharedAsync_ConcurrentMisses_ReadOnce()
    {
        var cache = new CachedCircuitState();
        var reads = 0;
        var release = new TaskCompletionSource<CircuitStateEntry>();

        var first = cache.ReadSharedAsync(() => { reads++; return release.Task; }, () => 0);
        var second = cache.ReadSharedAsync(() => { reads++; return release.Task; }, () => 0);
        release.SetResult(Closed);

        Assert.Same(Closed, await first);
        Assert.Same(Closed, await second);
        Assert.Equal(1, reads);
    }

    [Fact]
    public async Task ReadSharedAsync_LocalWriteDuringRead_KeepsTheWrite()
    {
        var cache = new CachedCircuitState();
        var release = new TaskCompletionSource<CircuitStateEntry>();
        var read = cache.ReadSharedAsync(() => release.Task, () => 10);

        cache.UpdateAfterWrite(Open, confirmedByStore: true, cache.Generation, nowMs: 5);
        release.SetResult(Closed);
        await read;

        Assert.True(cache.TryGetFresh(10, 100, out var cached));
        Assert.Same(Open, cached);
    }

    [Fact]
    public void UpdateAfterWrite_Unconfirmed_NeverFresherThanLastRead()
    {
        var cache = new CachedCircuitState();

        cache.UpdateAfterWrite(Open, confirmedByStore: false, cache.Generation, nowMs: 0);
        Assert.False(cache.TryGetFresh(0, 1_000, out _));

        cache.UpdateFromStore(Closed, cache.Generation, nowMs: 0);
        cache.UpdateAfterWrite(Open, confirmedByStore: false, cache.Generation, nowMs: 900);
        Assert.True(cache.TryGetFresh(999, 1_000, out var cached));
        Assert.Same(Open, cached);
        Assert.False(cache.TryGetFresh(1_000, 1_000, out _));
    }

    [Fact]
    public void UpdateFromStore_GenerationMoved_IsIgnored()
    {
        var cache = new CachedCircuitState();
        var generation = cache.Generation;
        cache.UpdateAfterWrite(Open, confirmedByStore: true, cache.Generation, nowMs: 0);

        cache.UpdateFromStore(Closed, generation, nowMs: 1);

        Assert.True(cache.TryGetFresh(1, 100, out var cached));
        Assert.Same(Open, cached);
    }

    [Fact]
    public void UpdateAfterWrite_CacheChangedDuringWrite_KeepsEntryStale()
    {
        var cache = new CachedCircuitState();
        var generation = cache.Generation;
        cache.UpdateFromStore(Open, cache.Generation, nowMs: 0);

        cache.UpdateAfterWrite(Closed, confirmedByStore: true, generation, nowMs: 1);

        Assert.False(cache.TryGetFresh(1, 100, out _));
    }
}
