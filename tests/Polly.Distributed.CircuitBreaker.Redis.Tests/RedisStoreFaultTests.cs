using Polly.Distributed.CircuitBreaker.TestKit;

namespace Polly.Distributed.CircuitBreaker.Redis.Tests;

public sealed class RedisStoreFaultTests : StoreFaultTests
{
    protected override int ServerPort => int.Parse(RedisServer.Endpoint.Split(':')[^1], System.Globalization.CultureInfo.InvariantCulture);

    protected override ICircuitStateStore CreateStore(int port) => RedisServer.CreateStore(RedisServer.Connect($"127.0.0.1:{port}"));
}
