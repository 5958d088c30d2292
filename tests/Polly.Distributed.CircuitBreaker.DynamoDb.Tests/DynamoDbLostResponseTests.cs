using Amazon.DynamoDBv2;
using Amazon.Runtime;
using Polly.Distributed.CircuitBreaker.TestKit;

namespace Polly.Distributed.CircuitBreaker.DynamoDb.Tests;

/// <summary>A write that DynamoDB applied but whose answer was lost is retried by the SDK, and must count once.</summary>
public sealed class DynamoDbLostResponseTests
{
    private const string Table = "lost-response";

    [Fact]
    public async Task Execute_AtomicFailureAnswersLostAndRetried_CountsOnceAndRaisesOneOpened()
    {
        await using var proxy = new LoopbackFaultProxy(new Uri(DynamoDbServer.Url).Port);
        using var client = new AmazonDynamoDBClient(
            new BasicAWSCredentials("local", "local"),
            new AmazonDynamoDBConfig { ServiceURL = $"http://127.0.0.1:{proxy.Port}", AuthenticationRegion = "us-east-1", MaxErrorRetry = 3 });
        var store = await DynamoDbServer.CreateStoreAsync(Table, client);
        var circuitId = "lost-" + Guid.NewGuid().ToString("N");
        var opened = 0;
        var pipeline = new ResiliencePipelineBuilder()
            .AddDistributedCircuitBreaker(new DistributedCircuitBreakerStrategyOptions
            {
                CircuitId = circuitId,
                StateStore = store,
                Consistency = CircuitConsistency.Atomic,
                FailureThreshold = 2,
                StoreTimeout = TimeSpan.FromSeconds(10),
                OnOpened = _ =>
                {
                    Interlocked.Increment(ref opened);
                    return default;
                },
            })
            .Build();

        proxy.DropNextResponseTo("ADD #failureCount");
        await Assert.ThrowsAsync<HttpRequestException>(async () => await pipeline.ExecuteAsync(_ => throw new HttpRequestException("down")));

        Assert.Equal(1, proxy.DroppedResponses);
        Assert.Equal(1, (await store.ReadAsync(circuitId, CancellationToken.None)).Snapshot.FailureCount);

        proxy.DropNextResponseTo("SET #circuitState = ");
        await Assert.ThrowsAsync<HttpRequestException>(async () => await pipeline.ExecuteAsync(_ => throw new HttpRequestException("down")));

        Assert.Equal(2, proxy.DroppedResponses);
        var stored = (await store.ReadAsync(circuitId, CancellationToken.None)).Snapshot;
        Assert.Equal(StoredCircuitState.Open, stored.State);
        Assert.Equal(2, stored.FailureCount);
        Assert.Equal(1, opened);
    }
}
