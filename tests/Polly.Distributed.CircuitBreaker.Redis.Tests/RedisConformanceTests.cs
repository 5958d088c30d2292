using Polly.Distributed.CircuitBreaker.TestKit;

namespace Polly.Distributed.CircuitBreaker.Redis.Tests;

public sealed class RedisConformanceTests : CircuitStateStoreConformanceTests
{
    protected override ICircuitStateStore Store => RedisServer.CreateStore();
}
