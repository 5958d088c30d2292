using Polly.CircuitBreaker;
using StackExchange.Redis;

namespace Polly.Distributed.CircuitBreaker.Redis.Tests;

public sealed class RedisCircuitStateStoreTests
{
    private readonly string _id = "store-" + Guid.NewGuid().ToString("N");

    private static IDatabase Database => RedisServer.Shared.GetDatabase();

    [Fact]
    public async Task WriteAsync_Hash_HasSchemaFieldsAsDecimalStrings()
    {
        var store = RedisServer.CreateStore(prefix: "circuitbreaker:");

        await store.WriteAsync(_id, new CircuitSnapshot { State = StoredCircuitState.Open, FailureCount = 5, NextAttemptUnixMs = 1_750_000_010_000 }, CancellationToken.None);

        var hash = (await Database.HashGetAllAsync("circuitbreaker:" + _id)).ToDictionary(e => (string)e.Name!, e => (string)e.Value!);
        Assert.Equal(
            ["circuitState", "consecutiveOpens", "failureCount", "lastFailureTime", "nextAttempt", "schemaVersion", "stateTimestamp", "successCount"],
            hash.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("OPEN", hash["circuitState"]);
        Assert.Equal("5", hash["failureCount"]);
        Assert.Equal("1750000010000", hash["nextAttempt"]);
    }

    [Fact]
    public async Task ReadAsync_LegacyHalfAndMissingFields_ReadsHalfOpenWithDefaults()
    {
        var store = RedisServer.CreateStore();
        await Database.HashSetAsync(store.KeyOf(_id), [new HashEntry("circuitState", "HALF"), new HashEntry("failureCount", "4")]);

        var entry = await store.ReadAsync(_id, CancellationToken.None);

        Assert.True(entry.Exists);
        Assert.Equal(new CircuitSnapshot { State = StoredCircuitState.HalfOpen, FailureCount = 4 }, entry.Snapshot);
    }

    [Fact]
    public async Task ReadAsync_MalformedHash_ReadsClosedWithReasonAndNextWriteReplacesIt()
    {
        var store = RedisServer.CreateStore();
        await Database.HashSetAsync(store.KeyOf(_id), [new HashEntry("circuitState", "OPEN"), new HashEntry("nextAttempt", "-5")]);

        var malformed = await store.ReadAsync(_id, CancellationToken.None);
        var replaced = await store.TryReplaceAsync(_id, malformed, new CircuitSnapshot { FailureCount = 1 }, CancellationToken.None);

        Assert.Equal(CircuitSnapshot.Initial, malformed.Snapshot);
        Assert.Contains("nextAttempt '-5'", malformed.MalformedReason, StringComparison.Ordinal);
        Assert.True(replaced.Succeeded);
        Assert.Null((await store.ReadAsync(_id, CancellationToken.None)).MalformedReason);
    }

    [Fact]
    public async Task WriteAsync_ForeignFieldsAndLease_KeepsForeignRemovesLease()
    {
        var store = RedisServer.CreateStore();
        await Database.HashSetAsync(store.KeyOf(_id), [new HashEntry("team", "payments"), new HashEntry("probeLeaseOwner", "x"), new HashEntry("probeLeaseExpires", "9")]);

        await store.WriteAsync(_id, new CircuitSnapshot { FailureCount = 1 }, CancellationToken.None);

        Assert.Equal("payments", (string?)await Database.HashGetAsync(store.KeyOf(_id), "team"));
        Assert.False(await Database.HashExistsAsync(store.KeyOf(_id), "probeLeaseOwner"));
        Assert.False(await Database.HashExistsAsync(store.KeyOf(_id), "probeLeaseExpires"));
    }

    [Fact]
    public async Task TryReplaceAsync_ForeignWriterChangedOneField_Conflicts()
    {
        var store = RedisServer.CreateStore();
        await store.WriteAsync(_id, new CircuitSnapshot { FailureCount = 1 }, CancellationToken.None);
        var read = await store.ReadAsync(_id, CancellationToken.None);
        await Database.HashSetAsync(store.KeyOf(_id), "stateTimestamp", "123");

        var result = await store.TryReplaceAsync(_id, read, read.Snapshot with { FailureCount = 2 }, CancellationToken.None);

        Assert.False(result.Succeeded);
        Assert.Equal(123, result.Current!.Snapshot.StateTimestampUnixMs);
    }

    [Fact]
    public async Task Execute_AgainstRedis_OpensSharedCircuitForOtherProcess()
    {
        var first = BuildPipeline();
        var second = BuildPipeline();

        for (var i = 0; i < 2; i++)
        {
            await Assert.ThrowsAsync<HttpRequestException>(async () => await first.ExecuteAsync<int>(_ => throw new HttpRequestException()));
        }

        await Assert.ThrowsAsync<BrokenCircuitException>(async () => await second.ExecuteAsync(_ => new ValueTask<int>(1)));
        Assert.Equal("OPEN", (string?)await Database.HashGetAsync("test:" + _id, "circuitState"));
    }

    [Theory]
    [InlineData("circuitState")]
    [InlineData("failureCount")]
    [InlineData("nextAttempt")]
    public async Task Execute_AtomicOnFieldWithBytesThatAreNotUtf8_RepairsAndCounts(string field)
    {
        var store = RedisServer.CreateStore();
        await Database.HashSetAsync(store.KeyOf(_id), [new HashEntry("circuitState", "OPEN"), new HashEntry("nextAttempt", "1"), new HashEntry(field, new byte[] { 0xC3, 0x28, 0xFF })]);
        var pipeline = BuildPipeline();

        for (var i = 0; i < 2; i++)
        {
            await Assert.ThrowsAsync<HttpRequestException>(async () => await pipeline.ExecuteAsync<int>(_ => throw new HttpRequestException()));
        }

        var stored = await store.ReadAsync(_id, CancellationToken.None);
        Assert.Null(stored.MalformedReason);
        Assert.Equal(StoredCircuitState.Open, stored.Snapshot.State);
        await Assert.ThrowsAsync<BrokenCircuitException>(async () => await pipeline.ExecuteAsync(_ => new ValueTask<int>(1)));
    }

    [Fact]
    public async Task Execute_KeyOfAnotherRedisType_FailsOpenAndLeavesTheKey()
    {
        var store = RedisServer.CreateStore();
        await Database.StringSetAsync(store.KeyOf(_id), "not a hash");
        var pipeline = BuildPipeline();

        Assert.Equal(1, await pipeline.ExecuteAsync(_ => new ValueTask<int>(1)));
        await Assert.ThrowsAsync<HttpRequestException>(async () => await pipeline.ExecuteAsync<int>(_ => throw new HttpRequestException()));

        Assert.Equal("not a hash", (string?)await Database.StringGetAsync(store.KeyOf(_id)));
    }

    private ResiliencePipeline<int> BuildPipeline() =>
        new ResiliencePipelineBuilder<int>()
            .AddDistributedCircuitBreaker(new DistributedCircuitBreakerStrategyOptions<int>
            {
                CircuitId = _id,
                StateStore = RedisServer.CreateStore(),
                FailureThreshold = 2,
                Consistency = CircuitConsistency.Atomic,
            })
            .Build();
}
