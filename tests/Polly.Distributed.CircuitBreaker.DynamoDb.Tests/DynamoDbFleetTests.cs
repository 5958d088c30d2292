using Polly.Distributed.CircuitBreaker.TestKit;

namespace Polly.Distributed.CircuitBreaker.DynamoDb.Tests;

/// <summary>Each execution environment has its own client, as separate Lambda environments do.</summary>
public sealed class DynamoDbFleetTests : FleetTests
{
    protected override ICircuitStateStore CreateEnvironmentStore() => DynamoDbServer.CreateStoreAsync("fleet").GetAwaiter().GetResult();
}
