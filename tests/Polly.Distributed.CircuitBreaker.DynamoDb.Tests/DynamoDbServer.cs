using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using Amazon.Runtime;
using Polly.Distributed.CircuitBreaker.TestKit;

namespace Polly.Distributed.CircuitBreaker.DynamoDb.Tests;

/// <summary>The dynalite server started by eng/test.sh, with one table per test class.</summary>
internal static class DynamoDbServer
{
    private static readonly SemaphoreSlim TableGate = new(1, 1);
    private static readonly HashSet<string> CreatedTables = [];

    public static string Url => IntegrationEnvironment.Require(IntegrationEnvironment.DynamoDbUrlVariable);

    public static AmazonDynamoDBClient CreateClient(string? url = null, HttpClientFactory? httpClientFactory = null) => new(
        new BasicAWSCredentials("local", "local"),
        new AmazonDynamoDBConfig
        {
            ServiceURL = url ?? Url,
            AuthenticationRegion = "us-east-1",
            MaxErrorRetry = 0,
            Timeout = TimeSpan.FromSeconds(5),
            HttpClientFactory = httpClientFactory,
        });

    public static async Task<DynamoDbCircuitStateStore> CreateStoreAsync(string table, AmazonDynamoDBClient? client = null)
    {
        var store = new DynamoDbCircuitStateStore(client ?? CreateClient(), new DynamoDbCircuitStateStoreOptions { TableName = table });
        await TableGate.WaitAsync();
        try
        {
            if (CreatedTables.Add(table))
            {
                await store.CreateTableIfNotExistsAsync();
            }
        }
        finally
        {
            TableGate.Release();
        }

        return store;
    }

    public static async Task<Dictionary<string, AttributeValue>> GetRawItemAsync(IAmazonDynamoDB client, string table, string circuitId) =>
        (await client.GetItemAsync(new GetItemRequest
        {
            TableName = table,
            Key = new() { ["id"] = new AttributeValue { S = circuitId } },
            ConsistentRead = true,
        })).Item ?? [];
}
