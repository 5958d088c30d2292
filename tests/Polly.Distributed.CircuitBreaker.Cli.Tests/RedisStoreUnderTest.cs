using Polly.Distributed.CircuitBreaker.Redis;
using Polly.Distributed.CircuitBreaker.TestKit;
using StackExchange.Redis;

namespace Polly.Distributed.CircuitBreaker.Cli.Tests;

/// <summary>A key prefix of the test's own on the redis-server started by eng/test.sh.</summary>
public sealed class RedisStoreUnderTest : StoreUnderTest
{
    private static readonly Lazy<ConnectionMultiplexer> SharedConnection = new(() => Connect(ServerEndpoint));

    private RedisStoreUnderTest(string endpoint, string prefix)
    {
        Endpoint = endpoint;
        Prefix = prefix;
        Store = new RedisCircuitStateStore(SharedConnection.Value, new RedisCircuitStateStoreOptions { KeyPrefix = prefix });
    }

    public static string ServerEndpoint => IntegrationEnvironment.Require(IntegrationEnvironment.RedisVariable);

    public static IDatabase Database => SharedConnection.Value.GetDatabase();

    public string Endpoint { get; }

    public string Prefix { get; }

    public override string[] Arguments => ["--redis", Endpoint, "--prefix", Prefix];

    public override ICircuitStateStore Store { get; }

    public override string LocationStart => $"Redis prefix '{Prefix}' at {Endpoint}";

    public static RedisStoreUnderTest Create(string? prefix = null) =>
        new(ServerEndpoint, prefix ?? "cli-test-" + Guid.NewGuid().ToString("N")[..12] + ":");

    public static ConnectionMultiplexer Connect(string endpoint)
    {
        var configuration = ConfigurationOptions.Parse(endpoint);
        configuration.AbortOnConnectFail = false;
        configuration.ConnectTimeout = 2_000;
        return ConnectionMultiplexer.Connect(configuration);
    }

    public override async Task SetAttributesAsync(string circuitId, params (string Name, string Text, bool IsNumber)[] attributes) =>
        await Database.HashSetAsync(Prefix + circuitId, [.. attributes.Select(a => new HashEntry(a.Name, a.Text))]);

    // A key's expiry runs on the server's clock: the tool adds what is left of it to its own clock. Half a second more, so
    // that the time shown to the second is the one set whatever the round trips took.
    public override async Task SetExpiryAsync(string circuitId, TimeSpan fromNow, TimeProvider clock, string attribute = "expiresAt") =>
        Assert.True(await Database.KeyExpireAsync(Prefix + circuitId, fromNow + TimeSpan.FromMilliseconds(500)));

    public override async Task<TimeSpan?> ReadTimeToLiveAsync(string circuitId, TimeProvider clock, string attribute = "expiresAt") =>
        await Database.KeyTimeToLiveAsync(Prefix + circuitId);

    public override ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
