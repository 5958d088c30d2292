using Polly.Distributed.CircuitBreaker.TestKit;
using StackExchange.Redis;

namespace Polly.Distributed.CircuitBreaker.Redis.Tests;

public sealed class RedisItemExpiryConformanceTests : CircuitItemExpiryConformanceTests
{
    private const string Prefix = "expiry-test:";

    protected override long ExpiryResolutionMs => 1;

    [Fact]
    public async Task ReadAsync_KeyExpired_ReadsAsANewClosedCircuit()
    {
        var id = NewCircuitId();
        var store = CreateStore(ItemExpiry);
        await store.WriteAsync(id, Closed(Now) with { State = StoredCircuitState.Open, NextAttemptUnixMs = Now + 600_000 }, CancellationToken.None);

        Assert.True(await RedisServer.Shared.GetDatabase().KeyExpireAsync(Prefix + id, TimeSpan.FromMilliseconds(1)));
        await Task.Delay(50);
        var read = await store.ReadAsync(id, CancellationToken.None);

        Assert.False(read.Exists);
        Assert.Equal(CircuitSnapshot.Initial, read.Snapshot);
    }

    [Fact]
    public async Task WriteAsync_ItemExpiryOff_LeavesNoTimeToLive()
    {
        var id = NewCircuitId();

        await CreateStore(itemExpiry: null).WriteAsync(id, Closed(Now), CancellationToken.None);

        Assert.Equal(-1, (long)await RedisServer.Shared.GetDatabase().ExecuteAsync("PTTL", Prefix + id));
    }

    protected override ICircuitStateStore CreateStore(TimeSpan? itemExpiry) =>
        new RedisCircuitStateStore(RedisServer.Shared, new RedisCircuitStateStoreOptions { KeyPrefix = Prefix, ItemExpiry = itemExpiry });

    protected override Task<long?> ReadExpiryUnixMsAsync(string circuitId) => RedisServer.ReadExpiryUnixMsAsync(RedisServer.Shared, Prefix + circuitId);
}
