using Polly.Distributed.CircuitBreaker.TestKit;

namespace Polly.Distributed.CircuitBreaker.Tests.Stores;

public sealed class InMemoryCircuitStateStoreTests : CircuitStateStoreConformanceTests
{
    protected override ICircuitStateStore Store { get; } = new InMemoryCircuitStateStore();
}
