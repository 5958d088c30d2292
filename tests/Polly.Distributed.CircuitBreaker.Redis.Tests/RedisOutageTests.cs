using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Polly.Distributed.CircuitBreaker.TestKit;

namespace Polly.Distributed.CircuitBreaker.Redis.Tests;

public sealed class RedisOutageTests
{
    [Fact]
    public async Task Execute_RedisKilledAndRestartedEmpty_FailsOpenThenCountsAgain()
    {
        using var server = await ServerProcess.StartRedisAsync();
        using var connection = RedisServer.Connect($"127.0.0.1:{server.Port}");
        var store = RedisServer.CreateStore(connection);
        var logger = new FakeLogger();
        var pipeline = new ResiliencePipelineBuilder<int>()
            .AddDistributedCircuitBreaker(new DistributedCircuitBreakerStrategyOptions<int>
            {
                CircuitId = "outage",
                StateStore = store,
                FailureThreshold = 100,
                Consistency = CircuitConsistency.Atomic,
                BreakDuration = TimeSpan.FromHours(1),
                MaxBreakDuration = TimeSpan.FromHours(1),
                StoreTimeout = TimeSpan.FromMilliseconds(500),
                Logger = logger,
            })
            .Build();

        server.Stop();

        Assert.Equal(7, await pipeline.ExecuteAsync(_ => new ValueTask<int>(7)));
        var own = await Assert.ThrowsAsync<HttpRequestException>(async () => await pipeline.ExecuteAsync<int>(_ => throw new HttpRequestException("own failure")));
        Assert.Equal("own failure", own.Message);
        Assert.Contains(logger.Collector.GetSnapshot(), r => r.Level == LogLevel.Warning && r.Message.Contains("'outage'", StringComparison.Ordinal));

        await server.StartAsync();

        // Redis restarted empty (no persistence): the circuit counts afresh, through the reloaded Lua scripts. After the
        // outage the store still shows pressure, so failures gather into counts sent once due: the count grows in steps,
        // never past the failures made.
        StoredCircuit stored;
        var failures = 0;
        do
        {
            await Assert.ThrowsAsync<HttpRequestException>(async () => await pipeline.ExecuteAsync<int>(_ => throw new HttpRequestException("down")));
            failures++;
            await Task.Delay(50);
            stored = await ReadOrMissingAsync(store);
        }
        while (stored.Snapshot.FailureCount < 3 && failures < 100);

        await Task.Delay(1_000);
        stored = await ReadOrMissingAsync(store);
        Assert.Null(stored.MalformedReason);
        Assert.Equal(StoredCircuitState.Closed, stored.Snapshot.State);
        Assert.InRange(stored.Snapshot.FailureCount, 3, failures + 1);
    }

    private static async Task<StoredCircuit> ReadOrMissingAsync(ICircuitStateStore store)
    {
        try
        {
            return await store.ReadAsync("outage", CancellationToken.None);
        }
        catch (CircuitStateStoreException)
        {
            return StoredCircuit.Missing;
        }
    }
}
