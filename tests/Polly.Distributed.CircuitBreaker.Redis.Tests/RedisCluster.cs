using System.Diagnostics;
using Polly.Distributed.CircuitBreaker.TestKit;
using StackExchange.Redis;

namespace Polly.Distributed.CircuitBreaker.Redis.Tests;

/// <summary>The Redis Cluster (3 masters, 3 replicas) started by eng/test.sh.</summary>
internal static class RedisCluster
{
    private static readonly Lazy<ConnectionMultiplexer> SharedConnection = new(() => Connect(Endpoints));

    /// <summary>Gets every node of the cluster, comma-separated: a client given any of them discovers the rest.</summary>
    public static string Endpoints => IntegrationEnvironment.Require(IntegrationEnvironment.RedisClusterVariable);

    public static ConnectionMultiplexer Shared => SharedConnection.Value;

    /// <summary>Connects to the cluster and waits until every node is connected.</summary>
    /// <remarks>
    /// On a busy machine a node's connection can miss the connect timeout and be made later; until it is, commands for that
    /// node's slots fail at once, which would fail a test for the machine's load rather than for the store.
    /// </remarks>
    public static ConnectionMultiplexer Connect(string endpoints)
    {
        var connection = RedisServer.Connect(endpoints);
        var deadline = Stopwatch.GetTimestamp() + (30 * Stopwatch.Frequency);
        while (!connection.GetServers().All(server => server.IsConnected))
        {
            if (Stopwatch.GetTimestamp() > deadline)
            {
                connection.Dispose();
                throw new TimeoutException($"Not every node of the Redis Cluster at {endpoints} was connected within 30 s.");
            }

            Thread.Sleep(20);
        }

        return connection;
    }

    public static RedisCircuitStateStore CreateStore(IConnectionMultiplexer? connection = null) =>
        RedisServer.CreateStore(connection ?? Shared, "cluster-test:");
}
