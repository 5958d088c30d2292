using Polly.Distributed.CircuitBreaker.TestKit;

namespace Polly.Distributed.CircuitBreaker.Redis.Tests;

/// <summary>The store conformance suite on a Redis Cluster: circuits spread over the slots of three masters.</summary>
public sealed class RedisClusterConformanceTests : CircuitStateStoreConformanceTests
{
    protected override ICircuitStateStore Store => RedisCluster.CreateStore();
}
