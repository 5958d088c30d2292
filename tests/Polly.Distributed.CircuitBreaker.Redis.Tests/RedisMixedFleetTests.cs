using Polly.Distributed.CircuitBreaker.TestKit;
using StackExchange.Redis;

namespace Polly.Distributed.CircuitBreaker.Redis.Tests;

public sealed class RedisMixedFleetTests : MixedFleetTests
{
    protected override ICircuitStateStore CreateStore() => RedisServer.CreateStore(prefix: "mixed:");

    protected override Task SetAttributesAsync(string circuitId, IReadOnlyList<(string Name, string Text, bool IsNumber)> attributes) =>
        RedisServer.Shared.GetDatabase().HashSetAsync("mixed:" + circuitId, [.. attributes.Select(a => new HashEntry(a.Name, a.Text))]);
}
