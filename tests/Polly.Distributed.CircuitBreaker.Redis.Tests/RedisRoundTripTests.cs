using Polly.Distributed.CircuitBreaker.TestKit;
using StackExchange.Redis;

namespace Polly.Distributed.CircuitBreaker.Redis.Tests;

/// <summary>
/// Round trips counted on the wire by a proxy in front of redis-server: reads are HMGET, writes are the Lua scripts
/// (EVALSHA; EVAL when a script had to be sent again).
/// </summary>
public sealed class RedisRoundTripTests : StoreRoundTripTests, IAsyncLifetime
{
    private RedisCommandCounter? _wire;
    private ConnectionMultiplexer? _connection;
    private RedisCircuitStateStore? _store;

    protected override ICircuitStateStore Store => _store!;

    public ValueTask InitializeAsync()
    {
        _wire = new RedisCommandCounter(int.Parse(RedisServer.Endpoint.Split(':')[^1], System.Globalization.CultureInfo.InvariantCulture));
        _connection = RedisServer.Connect($"127.0.0.1:{_wire.Port}");
        _store = RedisServer.CreateStore(_connection);
        return default;
    }

    public async ValueTask DisposeAsync()
    {
        if (_connection is not null)
        {
            await _connection.DisposeAsync();
        }

        if (_wire is not null)
        {
            await _wire.DisposeAsync();
        }
    }

    protected override Task<StoreRequests> CountAsync() =>
        Task.FromResult(new StoreRequests(_wire!.Count("HMGET"), _wire.Count("EVALSHA") + _wire.Count("EVAL")));
}
