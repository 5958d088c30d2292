using Amazon.DynamoDBv2;
using Polly.CircuitBreaker;

namespace Polly.Distributed.CircuitBreaker.DynamoDb.Tests;

/// <summary>The README's IAM policy allows GetItem and UpdateItem only: the breaker must never call anything else.</summary>
public sealed class DynamoDbLeastPrivilegeTests
{
    [Theory]
    [InlineData(CircuitConsistency.LastWriterWins)]
    [InlineData(CircuitConsistency.Atomic)]
    public async Task FullCycle_EitherMode_CallsOnlyGetItemAndUpdateItem(CircuitConsistency consistency)
    {
        await DynamoDbServer.CreateStoreAsync("least-privilege");
        var recording = new RecordingHttpClientFactory();
        using var client = DynamoDbServer.CreateClient(httpClientFactory: recording);
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        var control = new DistributedCircuitBreakerManualControl();
        var pipeline = new ResiliencePipelineBuilder { TimeProvider = time }
            .AddDistributedCircuitBreaker(new DistributedCircuitBreakerStrategyOptions
            {
                CircuitId = "least-privilege-" + Guid.NewGuid().ToString("N"),
                StateStore = new DynamoDbCircuitStateStore(client, new DynamoDbCircuitStateStoreOptions { TableName = "least-privilege" }),
                FailureThreshold = 2,
                SuccessThreshold = 1,
                Consistency = consistency,
                StoreTimeout = TimeSpan.FromSeconds(5),
                ManualControl = control,
            })
            .Build();

        await pipeline.ExecuteAsync(_ => default);
        for (var i = 0; i < 2; i++)
        {
            await Assert.ThrowsAsync<HttpRequestException>(async () => await pipeline.ExecuteAsync(_ => throw new HttpRequestException()));
        }

        await Assert.ThrowsAsync<BrokenCircuitException>(async () => await pipeline.ExecuteAsync(_ => default));
        time.Advance(TimeSpan.FromSeconds(10));
        await pipeline.ExecuteAsync(_ => default);
        await control.IsolateAsync();
        await control.CloseAsync();

        Assert.Equal(["GetItem", "UpdateItem"], recording.Operations.Distinct().Order(StringComparer.Ordinal));
    }
}
