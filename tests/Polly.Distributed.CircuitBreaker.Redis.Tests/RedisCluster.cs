using Polly.Distributed.CircuitBreaker.TestKit;
using StackExchange.Redis;

namespace Polly.Distributed.CircuitBreaker.Redis.Tests;

/// <summary>The Redis Cluster (3 masters, 3 replicas) started by eng/test.sh.</summary>
internal static class RedisCluster
{
    private static readonly Lazy<ConnectionMultiplexer> SharedConnection = new(() => RedisServer.Connect(Endpoints));

    /// <summary>Gets every node of the cluster, comma-separated: a client given any of them discovers the rest.</summary>
    public static string Endpoints => IntegrationEnvironment.Require(IntegrationEnvironment.RedisClusterVariable);

    public static ConnectionMultiplexer Shared => SharedConnection.Value;

    public static RedisCircuitStateStore CreateStore(IConnectionMultiplexer? connection = null) =>
        RedisServer.CreateStore(connection ?? Shared, "cluster-test:");
}
