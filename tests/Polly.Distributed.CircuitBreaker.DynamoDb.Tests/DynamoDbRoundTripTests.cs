using Polly.Distributed.CircuitBreaker.TestKit;

namespace Polly.Distributed.CircuitBreaker.DynamoDb.Tests;

/// <summary>Round trips counted on the wire: reads are GetItem, writes are UpdateItem.</summary>
public sealed class DynamoDbRoundTripTests : StoreRoundTripTests, IAsyncLifetime, IDisposable
{
    private const string Table = "round-trips";
    private readonly RecordingHttpClientFactory _wire = new();
    private readonly Amazon.DynamoDBv2.AmazonDynamoDBClient _client;

    public DynamoDbRoundTripTests()
    {
        _client = DynamoDbServer.CreateClient(httpClientFactory: _wire);
        Store = new DynamoDbCircuitStateStore(_client, new DynamoDbCircuitStateStoreOptions { TableName = Table });
    }

    protected override ICircuitStateStore Store { get; }

    public async ValueTask InitializeAsync() => await DynamoDbServer.CreateStoreAsync(Table);

    public ValueTask DisposeAsync() => default;

    public void Dispose() => _client.Dispose();

    protected override Task<StoreRequests> CountAsync()
    {
        var operations = _wire.Operations;
        return Task.FromResult(new StoreRequests(operations.Count(o => o == "GetItem"), operations.Count(o => o == "UpdateItem")));
    }
}
