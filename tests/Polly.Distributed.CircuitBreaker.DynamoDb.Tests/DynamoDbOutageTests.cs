using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Polly.CircuitBreaker;
using Polly.Distributed.CircuitBreaker.TestKit;

namespace Polly.Distributed.CircuitBreaker.DynamoDb.Tests;

public sealed class DynamoDbOutageTests
{
    [Fact]
    public async Task Execute_DynamoDbStopsAndRestarts_FailsOpenThenResumesFromSharedItem()
    {
        var data = Directory.CreateTempSubdirectory("dynalite-outage-");
        using var server = await ServerProcess.StartDynaliteAsync(data.FullName);
        using var client = DynamoDbServer.CreateClient($"http://127.0.0.1:{server.Port}");
        var store = new DynamoDbCircuitStateStore(client, new DynamoDbCircuitStateStoreOptions { TableName = "outage" });
        await store.CreateTableIfNotExistsAsync();
        var logger = new FakeLogger();
        var pipeline = new ResiliencePipelineBuilder<int>()
            .AddDistributedCircuitBreaker(new DistributedCircuitBreakerStrategyOptions<int>
            {
                CircuitId = "outage-circuit",
                StateStore = store,
                FailureThreshold = 2,
                BreakDuration = TimeSpan.FromHours(1),
                MaxBreakDuration = TimeSpan.FromHours(1),
                StoreTimeout = TimeSpan.FromSeconds(2),
                Logger = logger,
            })
            .Build();
        await Assert.ThrowsAsync<HttpRequestException>(async () => await pipeline.ExecuteAsync<int>(_ => throw new HttpRequestException("down")));

        server.Stop();

        Assert.Equal(7, await pipeline.ExecuteAsync(_ => new ValueTask<int>(7)));
        var own = await Assert.ThrowsAsync<InvalidOperationException>(async () => await pipeline.ExecuteAsync<int>(_ => throw new InvalidOperationException("own failure")));
        Assert.Equal("own failure", own.Message);
        Assert.Contains(logger.Collector.GetSnapshot(), r => r.Level == LogLevel.Warning && r.Message.Contains("'outage-circuit'", StringComparison.Ordinal));

        await server.StartAsync();

        Exception? resumed = null;
        for (var attempt = 0; attempt < 50 && resumed is not BrokenCircuitException; attempt++)
        {
            resumed = await Record.ExceptionAsync(async () => await pipeline.ExecuteAsync<int>(_ => throw new HttpRequestException("down")));
            await Task.Delay(100);
        }

        Assert.IsType<BrokenCircuitException>(resumed);
        data.Delete(recursive: true);
    }
}
