using Amazon.DynamoDBv2.Model;
using Polly.Distributed.CircuitBreaker.TestKit;

namespace Polly.Distributed.CircuitBreaker.DynamoDb.Tests;

public sealed class DynamoDbMixedFleetTests : MixedFleetTests, IAsyncLifetime, IDisposable
{
    private const string Table = "mixed-fleet";
    private readonly Amazon.DynamoDBv2.AmazonDynamoDBClient _client = DynamoDbServer.CreateClient();

    // Every test needs the table, whichever runs first.
    public async ValueTask InitializeAsync() => await DynamoDbServer.CreateStoreAsync(Table, _client);

    public ValueTask DisposeAsync() => default;

    public void Dispose() => _client.Dispose();

    protected override ICircuitStateStore CreateStore() =>
        new DynamoDbCircuitStateStore(_client, new DynamoDbCircuitStateStoreOptions { TableName = Table, ConsistentRead = true });

    protected override async Task SetAttributesAsync(string circuitId, IReadOnlyList<(string Name, string Text, bool IsNumber)> attributes)
    {
        await _client.UpdateItemAsync(new UpdateItemRequest
        {
            TableName = Table,
            Key = new() { ["id"] = new AttributeValue { S = circuitId } },
            UpdateExpression = "SET " + string.Join(", ", attributes.Select((a, i) => $"#a{i} = :v{i}")),
            ExpressionAttributeNames = attributes.Select((a, i) => (a, i)).ToDictionary(x => $"#a{x.i}", x => x.a.Name),
            ExpressionAttributeValues = attributes.Select((a, i) => (a, i)).ToDictionary(
                x => $":v{x.i}",
                x => x.a.IsNumber ? new AttributeValue { N = x.a.Text } : new AttributeValue { S = x.a.Text }),
        });
    }
}
