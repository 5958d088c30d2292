using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using Amazon.Runtime;
using Polly.Distributed.CircuitBreaker.DynamoDb;
using Polly.Distributed.CircuitBreaker.TestKit;

namespace Polly.Distributed.CircuitBreaker.Cli.Tests;

/// <summary>A table of the test's own on the dynalite started by eng/test.sh.</summary>
public sealed class DynamoDbStoreUnderTest : StoreUnderTest
{
    private readonly AmazonDynamoDBClient _client;
    private readonly DynamoDbCircuitStateStore _store;

    private DynamoDbStoreUnderTest(string url, string table, AmazonDynamoDBClient client, DynamoDbCircuitStateStore store)
    {
        Url = url;
        Table = table;
        _client = client;
        _store = store;
    }

    public static string ServerUrl => IntegrationEnvironment.Require(IntegrationEnvironment.DynamoDbUrlVariable);

    public string Url { get; }

    public string Table { get; }

    public IAmazonDynamoDB Client => _client;

    public override string[] Arguments => ["--table", Table, "--endpoint", Url];

    public override ICircuitStateStore Store => _store;

    public override string LocationStart => $"DynamoDB table '{Table}' at {Url}";

    public static AmazonDynamoDBClient CreateClient(string url) => new(
        new BasicAWSCredentials("local", "local"),
        new AmazonDynamoDBConfig { ServiceURL = url, AuthenticationRegion = "us-east-1", MaxErrorRetry = 0, Timeout = TimeSpan.FromSeconds(5) });

    public static async Task<DynamoDbStoreUnderTest> CreateAsync()
    {
        var url = ServerUrl;
        var table = "cli-" + Guid.NewGuid().ToString("N")[..12];
        var client = CreateClient(url);
        var store = new DynamoDbCircuitStateStore(client, new DynamoDbCircuitStateStoreOptions { TableName = table, ConsistentRead = true });
        await store.CreateTableIfNotExistsAsync(TestContext.Current.CancellationToken);
        return new DynamoDbStoreUnderTest(url, table, client, store);
    }

    public override async Task SetAttributesAsync(string circuitId, params (string Name, string Text, bool IsNumber)[] attributes) =>
        await _client.UpdateItemAsync(
            new UpdateItemRequest
            {
                TableName = Table,
                Key = new() { [CircuitSnapshotSchema.IdAttribute] = new AttributeValue { S = circuitId } },
                UpdateExpression = "SET " + string.Join(", ", attributes.Select((_, i) => $"#a{i} = :v{i}")),
                ExpressionAttributeNames = attributes.Select((a, i) => (a, i)).ToDictionary(x => $"#a{x.i}", x => x.a.Name),
                ExpressionAttributeValues = attributes.Select((a, i) => (a, i)).ToDictionary(
                    x => $":v{x.i}",
                    x => x.a.IsNumber ? new AttributeValue { N = x.a.Text } : new AttributeValue { S = x.a.Text }),
            },
            TestContext.Current.CancellationToken);

    public override Task SetExpiryAsync(string circuitId, TimeSpan fromNow, TimeProvider clock, string attribute = "expiresAt") =>
        SetAttributesAsync(circuitId, (attribute, clock.GetUtcNow().Add(fromNow).ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture), true));

    public override async Task<TimeSpan?> ReadTimeToLiveAsync(string circuitId, TimeProvider clock, string attribute = "expiresAt") =>
        (await GetRawItemAsync(circuitId)).TryGetValue(attribute, out var expiry)
            ? DateTimeOffset.FromUnixTimeSeconds(long.Parse(expiry.N, System.Globalization.CultureInfo.InvariantCulture)) - clock.GetUtcNow()
            : null;

    public async Task<Dictionary<string, AttributeValue>> GetRawItemAsync(string circuitId) =>
        (await _client.GetItemAsync(
            new GetItemRequest
            {
                TableName = Table,
                Key = new() { [CircuitSnapshotSchema.IdAttribute] = new AttributeValue { S = circuitId } },
                ConsistentRead = true,
            },
            TestContext.Current.CancellationToken)).Item ?? [];

    public override ValueTask DisposeAsync()
    {
        _client.Dispose();
        return ValueTask.CompletedTask;
    }
}
