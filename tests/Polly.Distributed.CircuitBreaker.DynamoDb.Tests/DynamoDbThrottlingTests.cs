namespace Polly.Distributed.CircuitBreaker.DynamoDb.Tests;

/// <summary>A throttled table (a hot circuit over its partition's throughput) is a store failure: fail-open, reported.</summary>
public sealed class DynamoDbThrottlingTests
{
    [Theory]
    [InlineData(CircuitConsistency.LastWriterWins)]
    [InlineData(CircuitConsistency.Atomic)]
    public async Task Execute_TableThrottles_FailsOpenAndReportsEachStoreFailure(CircuitConsistency consistency)
    {
        await DynamoDbServer.CreateStoreAsync("throttling");
        var wire = new RecordingHttpClientFactory();
        using var client = DynamoDbServer.CreateClient(httpClientFactory: wire);
        var failures = new List<OnCircuitStateStoreFailureArguments>();
        var pipeline = new ResiliencePipelineBuilder<int>()
            .AddDistributedCircuitBreaker(new DistributedCircuitBreakerStrategyOptions<int>
            {
                CircuitId = "throttled-" + Guid.NewGuid().ToString("N"),
                StateStore = new DynamoDbCircuitStateStore(client, new DynamoDbCircuitStateStoreOptions { TableName = "throttling" }),
                FailureThreshold = 5,
                Consistency = consistency,
                OnStateStoreFailure = args =>
                {
                    lock (failures)
                    {
                        failures.Add(args);
                    }

                    return default;
                },
            })
            .Build();
        wire.Throttle = true;

        Assert.Equal(7, await pipeline.ExecuteAsync(_ => new ValueTask<int>(7)));
        var own = await Assert.ThrowsAsync<HttpRequestException>(async () => await pipeline.ExecuteAsync<int>(_ => throw new HttpRequestException("own")));
        Assert.Equal("own", own.Message);
        Assert.Equal(7, await pipeline.ExecuteAsync(_ => new ValueTask<int>(7)));

        Assert.NotEmpty(failures);
        Assert.All(failures, f => Assert.Contains("ProvisionedThroughputExceeded", f.Exception.ToString(), StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Operation == CircuitStateStoreOperation.Read);
    }

    [Fact]
    public async Task Execute_TableThrottles_ThrottlingIsPressureAndReadsAreSpacedOutWhileFailuresStillReachTheTable()
    {
        await DynamoDbServer.CreateStoreAsync("throttling");
        var wire = new RecordingHttpClientFactory();
        using var client = DynamoDbServer.CreateClient(httpClientFactory: wire);
        var kinds = new List<CircuitStateStoreFailureKind>();
        var pipeline = new ResiliencePipelineBuilder<int>()
            .AddDistributedCircuitBreaker(new DistributedCircuitBreakerStrategyOptions<int>
            {
                CircuitId = "throttled-" + Guid.NewGuid().ToString("N"),
                StateStore = new DynamoDbCircuitStateStore(client, new DynamoDbCircuitStateStoreOptions { TableName = "throttling" }),
                Consistency = CircuitConsistency.Atomic,
                FailureThreshold = 100,
                BreakDuration = TimeSpan.FromSeconds(30),
                OnStateStoreFailure = args =>
                {
                    lock (kinds)
                    {
                        kinds.Add(((CircuitStateStoreException)args.Exception).Kind);
                    }

                    return default;
                },
            })
            .Build();
        wire.Throttle = true;

        for (var i = 0; i < 20; i++)
        {
            Assert.Equal(i, await pipeline.ExecuteAsync(_ => new ValueTask<int>(i)));
        }

        await Assert.ThrowsAsync<HttpRequestException>(async () => await pipeline.ExecuteAsync<int>(_ => throw new HttpRequestException("own")));

        // Twenty healthy calls in well under the read interval: one read reached the throttled item. The failure's count
        // waited for this process's next request to be due, read the circuit first (a count costs six reads of the item's
        // budget), and still went when that read was refused.
        for (var wait = 0; wait < 100 && wire.Operations.Count < 3; wait++)
        {
            await Task.Delay(50);
        }

        await Task.Delay(200);
        Assert.Equal(["GetItem", "GetItem", "UpdateItem"], wire.Operations);
        Assert.All(kinds, kind => Assert.Equal(CircuitStateStoreFailureKind.Throttled, kind));
    }
}
