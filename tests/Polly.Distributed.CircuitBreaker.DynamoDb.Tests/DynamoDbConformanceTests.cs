using Polly.Distributed.CircuitBreaker.TestKit;

namespace Polly.Distributed.CircuitBreaker.DynamoDb.Tests;

public sealed class DynamoDbConformanceTests : CircuitStateStoreConformanceTests
{
    private ICircuitStateStore? _store;

    protected override ICircuitStateStore Store => _store ??= DynamoDbServer.CreateStoreAsync("conformance").GetAwaiter().GetResult();
}
