using System.Reflection;
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
        using var client = DynamoDbServer.CreateClient();
        var recording = RecordingDynamoDb.Wrap(client);
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        var control = new DistributedCircuitBreakerManualControl();
        var pipeline = new ResiliencePipelineBuilder { TimeProvider = time }
            .AddDistributedCircuitBreaker(new DistributedCircuitBreakerStrategyOptions
            {
                CircuitId = "least-privilege-" + Guid.NewGuid().ToString("N"),
                StateStore = new DynamoDbCircuitStateStore(recording, new DynamoDbCircuitStateStoreOptions { TableName = "least-privilege" }),
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

        Assert.Equal(["GetItemAsync", "UpdateItemAsync"], RecordingDynamoDb.Calls(recording).Distinct().Order(StringComparer.Ordinal));
    }

    /// <summary>Forwards every call to a real client and records the request methods (properties such as Config are not requests).</summary>
    public class RecordingDynamoDb : DispatchProxy
    {
        private readonly List<string> _calls = [];
        private IAmazonDynamoDB _inner = null!;

        public static IAmazonDynamoDB Wrap(IAmazonDynamoDB inner)
        {
            var proxy = Create<IAmazonDynamoDB, RecordingDynamoDb>();
            ((RecordingDynamoDb)(object)proxy)._inner = inner;
            return proxy;
        }

        public static IReadOnlyList<string> Calls(IAmazonDynamoDB proxy)
        {
            var recording = (RecordingDynamoDb)(object)proxy;
            lock (recording._calls)
            {
                return [.. recording._calls];
            }
        }

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
        {
            if (targetMethod is { IsSpecialName: false })
            {
                lock (_calls)
                {
                    _calls.Add(targetMethod.Name);
                }
            }

            try
            {
                return targetMethod!.Invoke(_inner, args);
            }
            catch (TargetInvocationException ex) when (ex.InnerException is not null)
            {
                throw ex.InnerException;
            }
        }
    }
}
