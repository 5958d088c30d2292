using System.Diagnostics;
using Amazon.DynamoDBv2;
using Amazon.Runtime;

namespace Polly.Distributed.CircuitBreaker.DynamoDb.Tests;

/// <summary>
/// The SDK resolves credentials synchronously inside its async call (for example from an instance-metadata
/// endpoint that never answers), so the call blocks its thread before any task exists. The breaker's bound must hold anyway.
/// </summary>
public sealed class DynamoDbBlockingCredentialsTests
{
    [Fact]
    public async Task Execute_CredentialResolutionBlocksThread_CallsBoundedByStoreTimeout()
    {
        using var client = new AmazonDynamoDBClient(
            new BlockingCredentials(TimeSpan.FromSeconds(10)),
            new AmazonDynamoDBConfig { ServiceURL = DynamoDbServer.Url, AuthenticationRegion = "us-east-1", MaxErrorRetry = 0 });
        var pipeline = new ResiliencePipelineBuilder()
            .AddDistributedCircuitBreaker(new DistributedCircuitBreakerStrategyOptions
            {
                CircuitId = "blocking-credentials",
                StateStore = new DynamoDbCircuitStateStore(client, new DynamoDbCircuitStateStoreOptions { TableName = "blocking-credentials" }),
                StoreTimeout = TimeSpan.FromMilliseconds(300),
            })
            .Build();

        var watch = Stopwatch.StartNew();
        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => pipeline.ExecuteAsync(_ => new ValueTask<int>(i)).AsTask()));

        Assert.Equal(Enumerable.Range(0, 8), results);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"took {watch.Elapsed}");
    }

    private sealed class BlockingCredentials(TimeSpan block) : AWSCredentials
    {
        public override ImmutableCredentials GetCredentials()
        {
            Thread.Sleep(block);
            return new ImmutableCredentials("local", "local", null);
        }
    }
}
