using System.Net;
using Amazon.DynamoDBv2;
using Amazon.Runtime;
using Microsoft.Extensions.DependencyInjection;
using Polly.CircuitBreaker;
using Polly.Distributed.CircuitBreaker.DynamoDb;
using Polly.Distributed.CircuitBreaker.TestKit;
using StackExchange.Redis;

namespace Polly.Distributed.CircuitBreaker.Redis.Tests.DependencyInjection;

/// <summary>The same HttpClient pipeline on DynamoDB and on Redis: only the store registration line differs.</summary>
public sealed class StoreSwapTests
{
    public static TheoryData<string> Stores => ["dynamodb", "redis"];

    [Theory]
    [MemberData(nameof(Stores))]
    public async Task HttpClientPipeline_EitherStore_OpensSharedCircuit(string storeKind)
    {
        using var downstream = new LoopbackDownstream { Status = HttpStatusCode.BadGateway };
        var circuitId = "swap-" + Guid.NewGuid().ToString("N");
        var services = new ServiceCollection();

        // The only line that changes between the two stores:
        RegisterStore(services, storeKind);

        services.AddHttpClient("downstream").AddResilienceHandler("breaker", (builder, context) => builder.AddDistributedCircuitBreaker(context, o =>
        {
            o.CircuitId = circuitId;
            o.FailureThreshold = 2;
            o.StoreTimeout = TimeSpan.FromSeconds(5);
        }));
        await using var provider = services.BuildServiceProvider();
        var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("downstream");

        await client.GetAsync(downstream.Url);
        await client.GetAsync(downstream.Url);
        await Assert.ThrowsAsync<BrokenCircuitException>(() => client.GetAsync(downstream.Url));

        var store = provider.GetRequiredService<ICircuitStateStore>();
        Assert.Equal(storeKind == "redis" ? typeof(RedisCircuitStateStore) : typeof(DynamoDbCircuitStateStore), store.GetType());
        Assert.Equal(StoredCircuitState.Open, (await store.ReadAsync(circuitId, CancellationToken.None)).Snapshot.State);
    }

    private static void RegisterStore(IServiceCollection services, string storeKind)
    {
        if (storeKind == "redis")
        {
            services.AddSingleton<IConnectionMultiplexer>(RedisServer.Shared).AddRedisCircuitStateStore();
            return;
        }

        var url = IntegrationEnvironment.Require(IntegrationEnvironment.DynamoDbUrlVariable);
        var client = new AmazonDynamoDBClient(new BasicAWSCredentials("local", "local"), new AmazonDynamoDBConfig { ServiceURL = url, AuthenticationRegion = "us-east-1" });
        new DynamoDbCircuitStateStore(client, new DynamoDbCircuitStateStoreOptions { TableName = "swap" }).CreateTableIfNotExistsAsync().GetAwaiter().GetResult();
        services.AddSingleton<IAmazonDynamoDB>(client).AddDynamoDbCircuitStateStore(o => o.TableName = "swap");
    }
}
