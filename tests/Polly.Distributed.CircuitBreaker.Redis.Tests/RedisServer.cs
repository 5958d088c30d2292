using Polly.Distributed.CircuitBreaker.TestKit;
using StackExchange.Redis;

namespace Polly.Distributed.CircuitBreaker.Redis.Tests;

/// <summary>The redis-server started by eng/test.sh.</summary>
internal static class RedisServer
{
    private static readonly Lazy<ConnectionMultiplexer> SharedConnection = new(() => Connect(Endpoint));

    public static string Endpoint => IntegrationEnvironment.Require(IntegrationEnvironment.RedisVariable);

    public static ConnectionMultiplexer Shared => SharedConnection.Value;

    public static ConnectionMultiplexer Connect(string endpoint)
    {
        var configuration = ConfigurationOptions.Parse(endpoint);
        configuration.AbortOnConnectFail = false;
        configuration.ConnectTimeout = 2_000;
        configuration.ReconnectRetryPolicy = new LinearRetry(100);
        return ConnectionMultiplexer.Connect(configuration);
    }

    /// <summary>Reads a key's expiry (<c>PEXPIRETIME</c>), epoch milliseconds, or <see langword="null"/> when it has none; the key must exist.</summary>
    public static async Task<long?> ReadExpiryUnixMsAsync(IConnectionMultiplexer connection, RedisKey key)
    {
        var expiry = (long)await connection.GetDatabase().ExecuteAsync("PEXPIRETIME", key);
        Assert.NotEqual(-2, expiry);
        return expiry == -1 ? null : expiry;
    }

    public static RedisCircuitStateStore CreateStore(IConnectionMultiplexer? connection = null, string prefix = "test:") =>
        new(connection ?? Shared, new RedisCircuitStateStoreOptions { KeyPrefix = prefix });
}
