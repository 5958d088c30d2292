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

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.99)]
    [InlineData(3651 * 24.0)]
    public void AddRedisCircuitStateStore_ItemExpiryOutOfRange_ThrowsNamingTheRule(double hours)
    {
        var error = Assert.Throws<ArgumentException>(() => new ServiceCollection().AddRedisCircuitStateStore(o => o.ItemExpiry = TimeSpan.FromHours(hours)));

        Assert.Contains("ItemExpiry", error.Message, StringComparison.Ordinal);
        Assert.Contains("MaxBreakDuration", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AddRedisCircuitStateStore_ItemExpiry_StoreSetsTheKeysExpiry()
    {
        using var services = new ServiceCollection()
            .AddSingleton<IConnectionMultiplexer>(RedisServer.Shared)
            .AddRedisCircuitStateStore(o =>
            {
                o.KeyPrefix = "di-expiry:";
                o.ItemExpiry = TimeSpan.FromDays(7);
            })
            .BuildServiceProvider();
        var now = TimeProvider.System.GetUtcNow().ToUnixTimeMilliseconds();
        var id = Guid.NewGuid().ToString("N");

        await services.GetRequiredService<ICircuitStateStore>().WriteAsync(id, new CircuitSnapshot { StateTimestampUnixMs = now }, CancellationToken.None);

        Assert.Equal(now + (long)TimeSpan.FromDays(7).TotalMilliseconds, await RedisServer.ReadExpiryUnixMsAsync(RedisServer.Shared, "di-expiry:" + id));
    }

    [Theory]
    [InlineData("127.0.0.1:{0},password=s3cret-value", "127.0.0.1:{0},password=wrong-s3cret,connectTimeout=500")]
    [InlineData("redis://default:s3cret-value@127.0.0.1:{0}", "default:wrong-s3cret@127.0.0.1:{0},connectTimeout=500")]
    public async Task AddRedisCircuitStateStore_ConnectionStringWithPassword_AuthenticatesAndNeverShowsPassword(string authorisedFormat, string refusedFormat)
    {
        using var server = await ServerProcess.StartRedisAsync("--requirepass", "s3cret-value");
        var port = server.Port;

        using var authorised = new ServiceCollection()
            .AddRedisCircuitStateStore(o => o.ConnectionString = string.Format(System.Globalization.CultureInfo.InvariantCulture, authorisedFormat, port))
            .BuildServiceProvider();
        var store = authorised.GetRequiredService<ICircuitStateStore>();
        await WaitUntilConnectedAsync(store);
        Assert.Equal(3, (await store.ReadAsync("orders", CancellationToken.None)).Snapshot.FailureCount);

        using var refused = new ServiceCollection()
            .AddRedisCircuitStateStore(o => o.ConnectionString = string.Format(System.Globalization.CultureInfo.InvariantCulture, refusedFormat, port))
            .BuildServiceProvider();
        var error = await Record.ExceptionAsync(async () => await refused.GetRequiredService<ICircuitStateStore>().ReadAsync("orders", CancellationToken.None));

        Assert.IsType<CircuitStateStoreException>(error);
        Assert.Contains($"127.0.0.1:{port}", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("wrong-s3cret", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AddRedisCircuitStateStore_RedisAcceptsButNeverAnswers_ResolvesAtOnceAndFailsOpen()
    {
        await using var proxy = new LoopbackFaultProxy(IntegrationEnvironment.FreeLoopbackPort()) { Fault = LoopbackFaultProxy.ProxyFault.BlackHole };
        using var services = new ServiceCollection()
            .AddRedisCircuitStateStore(o => o.ConnectionString = $"127.0.0.1:{proxy.Port}")
            .BuildServiceProvider();

        var watch = System.Diagnostics.Stopwatch.StartNew();
        var store = services.GetRequiredService<ICircuitStateStore>();
        var pipeline = new ResiliencePipelineBuilder()
            .AddDistributedCircuitBreaker(new DistributedCircuitBreakerStrategyOptions { CircuitId = "black-hole", StateStore = store })
            .Build();
        var result = await pipeline.ExecuteAsync(_ => new ValueTask<int>(7));

        Assert.Equal(7, result);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(2), $"took {watch.Elapsed}");
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

    // The store connects in the background: the first commands fail open until the connection is made.
    private static async Task WaitUntilConnectedAsync(ICircuitStateStore store)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                await store.WriteAsync("orders", new CircuitSnapshot { FailureCount = 3 }, CancellationToken.None);
                return;
            }
            catch (CircuitStateStoreException) when (attempt < 100)
            {
                await Task.Delay(50);
            }
        }
    }
}
