using Microsoft.Extensions.DependencyInjection;
using Polly.Distributed.CircuitBreaker.TestKit;
using StackExchange.Redis;

namespace Polly.Distributed.CircuitBreaker.Redis.Tests.DependencyInjection;

public sealed class RedisCircuitStateStoreServiceCollectionExtensionsTests
{
    [Fact]
    public void AddRedisCircuitStateStore_MultiplexerRegistered_UsesIt()
    {
        using var services = new ServiceCollection()
            .AddSingleton<IConnectionMultiplexer>(RedisServer.Shared)
            .AddRedisCircuitStateStore(o => o.KeyPrefix = "app:")
            .BuildServiceProvider();

        var store = Assert.IsType<RedisCircuitStateStore>(services.GetRequiredService<ICircuitStateStore>());

        Assert.Equal("app:orders", store.KeyOf("orders"));
        Assert.Equal(RedisServer.Endpoint, store.Endpoints);
    }

    [Fact]
    public async Task AddRedisCircuitStateStore_ConnectionStringWithPassword_AuthenticatesAndNeverShowsPassword()
    {
        using var server = await ServerProcess.StartRedisAsync("--requirepass", "s3cret-value");
        var port = server.Port;

        using var authorised = new ServiceCollection()
            .AddRedisCircuitStateStore(o => o.ConnectionString = $"127.0.0.1:{port},password=s3cret-value")
            .BuildServiceProvider();
        await authorised.GetRequiredService<ICircuitStateStore>().WriteAsync("orders", new CircuitSnapshot { FailureCount = 3 }, CancellationToken.None);
        Assert.Equal(3, (await authorised.GetRequiredService<ICircuitStateStore>().ReadAsync("orders", CancellationToken.None)).Snapshot.FailureCount);

        using var refused = new ServiceCollection()
            .AddRedisCircuitStateStore(o => o.ConnectionString = $"127.0.0.1:{port},password=wrong-s3cret,connectTimeout=500")
            .BuildServiceProvider();
        var error = await Record.ExceptionAsync(async () => await refused.GetRequiredService<ICircuitStateStore>().ReadAsync("orders", CancellationToken.None));

        Assert.IsType<CircuitStateStoreException>(error);
        Assert.Contains($"127.0.0.1:{port}", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("wrong-s3cret", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void AddRedisCircuitStateStore_DefaultOptions_KeysStartWithCircuitbreakerPrefix()
    {
        using var services = new ServiceCollection()
            .AddSingleton<IConnectionMultiplexer>(RedisServer.Shared)
            .AddRedisCircuitStateStore()
            .BuildServiceProvider();

        Assert.Equal("circuitbreaker:orders", services.GetRequiredService<RedisCircuitStateStore>().KeyOf("orders"));
    }

    [Fact]
    public async Task AddRedisCircuitStateStore_RedisDownAtStartUp_ResolvesAndFailsOpenNamingEndpoint()
    {
        var port = IntegrationEnvironment.FreeLoopbackPort();
        using var services = new ServiceCollection()
            .AddRedisCircuitStateStore(o => o.ConnectionString = $"127.0.0.1:{port},connectTimeout=300")
            .BuildServiceProvider();
        var logger = new Microsoft.Extensions.Logging.Testing.FakeLogger();
        var pipeline = new ResiliencePipelineBuilder<int>()
            .AddDistributedCircuitBreaker(new DistributedCircuitBreakerStrategyOptions<int>
            {
                CircuitId = "orders",
                StateStore = services.GetRequiredService<ICircuitStateStore>(),
                Logger = logger,
                StoreTimeout = TimeSpan.FromSeconds(10),
            })
            .Build();

        Assert.Equal(4, await pipeline.ExecuteAsync(_ => new ValueTask<int>(4)));
        Assert.Contains($"127.0.0.1:{port}", logger.LatestRecord.Message + logger.LatestRecord.Exception, StringComparison.Ordinal);
    }

    [Fact]
    public void AddRedisCircuitStateStore_NoConnection_ThrowsOnResolve()
    {
        using var services = new ServiceCollection().AddRedisCircuitStateStore().BuildServiceProvider();

        var error = Assert.Throws<InvalidOperationException>(() => services.GetRequiredService<ICircuitStateStore>());

        Assert.Contains("ConnectionString", error.Message, StringComparison.Ordinal);
    }
}
