using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Polly.CircuitBreaker;
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
                FailureThreshold = 2,
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

        // Redis restarted empty (no persistence): the circuit counts afresh, through the reloaded Lua scripts.
        Exception? opened = null;
        for (var attempt = 0; attempt < 100 && opened is not BrokenCircuitException; attempt++)
        {
            opened = await Record.ExceptionAsync(async () => await pipeline.ExecuteAsync<int>(_ => throw new HttpRequestException("down")));
            await Task.Delay(50);
        }

        Assert.IsType<BrokenCircuitException>(opened);
        var stored = await store.ReadAsync("outage", CancellationToken.None);
        Assert.Null(stored.MalformedReason);
        Assert.Equal(StoredCircuitState.Open, stored.Snapshot.State);
    }
}
