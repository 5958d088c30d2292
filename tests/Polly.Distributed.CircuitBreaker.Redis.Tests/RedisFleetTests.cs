using Polly.Distributed.CircuitBreaker.TestKit;
using StackExchange.Redis;

namespace Polly.Distributed.CircuitBreaker.Redis.Tests;

/// <summary>Each execution environment has its own connection, as separate processes do.</summary>
public sealed class RedisFleetTests : FleetTests, IDisposable
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
        var connection = RedisServer.Connect(RedisServer.Endpoint);
        lock (_connections)
        {
            _connections.Add(connection);
        }

        return RedisServer.CreateStore(connection);
    }
}
