using Polly.Distributed.CircuitBreaker.TestKit;

namespace Polly.Distributed.CircuitBreaker.DynamoDb.Tests;

public sealed class DynamoDbStoreFaultTests : StoreFaultTests
{
    private const string Table = "store-faults";

    protected override int ServerPort => new Uri(DynamoDbServer.Url).Port;

    protected override ICircuitStateStore CreateStore(int port) =>
        new DynamoDbCircuitStateStore(DynamoDbServer.CreateClient($"http://127.0.0.1:{port}"), new DynamoDbCircuitStateStoreOptions { TableName = Table });

    protected override async Task PrepareAsync() => await DynamoDbServer.CreateStoreAsync(Table);
}
