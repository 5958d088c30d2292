using Polly.Distributed.CircuitBreaker.TestKit;

namespace Polly.Distributed.CircuitBreaker.Tests.Stores;

public sealed class InMemoryFleetTests : FleetTests
{
    private readonly InMemoryCircuitStateStore _shared = new();

    // A millisecond of latency per store call makes the environments' reads and writes interleave as they do over a network.
    protected override ICircuitStateStore CreateEnvironmentStore() => new CountingCircuitStateStore(_shared, TimeSpan.FromMilliseconds(1));
}
