using Polly.Distributed.CircuitBreaker.TestKit;
using StackExchange.Redis;

namespace Polly.Distributed.CircuitBreaker.Redis.Tests;

/// <summary>
/// The store conformance suite over RESP2. StackExchange.Redis 3 speaks RESP3 by default (the other suites), and a
/// connection the application registers may still ask for RESP2, whose script replies are encoded differently.
/// </summary>
public sealed class RedisResp2ConformanceTests : CircuitStateStoreConformanceTests
{
    private static readonly Lazy<ConnectionMultiplexer> Resp2Connection = new(() => RedisServer.Connect(RedisServer.Endpoint + ",protocol=resp2"));

    protected override ICircuitStateStore Store => RedisServer.CreateStore(Resp2Connection.Value);

    [Fact]
    public void Connections_DefaultAndResp2Suite_SpeakResp3AndResp2()
    {
        Assert.Equal(RedisProtocol.Resp3, RedisServer.Shared.GetServer(RedisServer.Endpoint).Protocol);
        Assert.Equal(RedisProtocol.Resp2, Resp2Connection.Value.GetServer(RedisServer.Endpoint).Protocol);
    }
}
