using Polly.Distributed.CircuitBreaker.TestKit;

namespace Polly.Distributed.CircuitBreaker.Redis.Tests;

/// <summary>The item expiry suite on a Redis Cluster: each key's expiry is set by the script on the master of its slot.</summary>
public sealed class RedisClusterItemExpiryConformanceTests : CircuitItemExpiryConformanceTests
{
    private const string Prefix = "cluster-expiry-test:";

    protected override long ExpiryResolutionMs => 1;

    protected override ICircuitStateStore CreateStore(TimeSpan? itemExpiry) =>
        new RedisCircuitStateStore(RedisCluster.Shared, new RedisCircuitStateStoreOptions { KeyPrefix = Prefix, ItemExpiry = itemExpiry });

    protected override Task<long?> ReadExpiryUnixMsAsync(string circuitId) => RedisServer.ReadExpiryUnixMsAsync(RedisCluster.Shared, Prefix + circuitId);
}
