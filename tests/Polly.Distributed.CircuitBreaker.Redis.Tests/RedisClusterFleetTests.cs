using Polly.Distributed.CircuitBreaker.TestKit;
using StackExchange.Redis;

namespace Polly.Distributed.CircuitBreaker.Redis.Tests;

/// <summary>The fleet tests on a Redis Cluster; each execution environment has its own cluster connection, as separate processes do.</summary>
public sealed class RedisClusterFleetTests : FleetTests, IDisposable
{
    private readonly List<ConnectionMultiplexer> _connections = [];

    public void Dispose()
    {
        foreach (var connection in _connections)
        {
            connection.Dispose();
        }
    }

    protected override ICircuitStateStore CreateEnvironmentStore()
    {
        var connection = RedisCluster.Connect(RedisCluster.Endpoints);
        lock (_connections)
        {
            _connections.Add(connection);
        }

        return RedisCluster.CreateStore(connection);
    }
}
