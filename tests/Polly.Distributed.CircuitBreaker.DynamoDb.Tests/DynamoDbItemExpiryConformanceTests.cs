using System.Globalization;
using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using Polly.Distributed.CircuitBreaker.TestKit;

namespace Polly.Distributed.CircuitBreaker.DynamoDb.Tests;

public sealed class DynamoDbItemExpiryConformanceTests : CircuitItemExpiryConformanceTests, IDisposable
{
    private const string Table = "item-expiry";

    private readonly AmazonDynamoDBClient _client = DynamoDbServer.CreateClient();

    protected override long ExpiryResolutionMs => 1_000;

    public void Dispose() => _client.Dispose();

    [Fact]
    public async Task WriteAsync_ItemExpiry_IsANumberOfEpochSecondsInTheNamedAttribute()
    {
        var id = NewCircuitId();
        var store = CreateStore(ItemExpiry, "ttl");

        await store.WriteAsync(id, Closed(Now), CancellationToken.None);

        var item = await DynamoDbServer.GetRawItemAsync(_client, Table, id);
        Assert.False(item.ContainsKey(DynamoDbCircuitStateStoreOptions.DefaultItemExpiryAttributeName));
        Assert.Equal((ExpiryFor(Now) / 1_000).ToString(CultureInfo.InvariantCulture), item["ttl"].N);
    }

    // DynamoDB deletes an expired item up to days later: until then it is read as stored, since it was written to expire
    // only once everything in it was over, and the next write gives it a new expiry.
    [Fact]
    public async Task ReadAsync_ItemPastItsExpiryNotYetDeleted_ReadsAsStoredAndNextWriteExtendsIt()
    {
        var id = NewCircuitId();
        var store = CreateStore(ItemExpiry);
        var open = Closed(Now) with { State = StoredCircuitState.Open, NextAttemptUnixMs = Now + 60_000 };
        await store.WriteAsync(id, open, CancellationToken.None);
        await _client.UpdateItemAsync(new UpdateItemRequest
        {
            TableName = Table,
            Key = new() { ["id"] = new AttributeValue { S = id } },
            UpdateExpression = "SET expiresAt = :past",
            ExpressionAttributeValues = new() { [":past"] = new AttributeValue { N = ((Now / 1_000) - 3_600).ToString(CultureInfo.InvariantCulture) } },
        });

        var read = await store.ReadAsync(id, CancellationToken.None);
        var replaced = await store.TryReplaceAsync(id, read, open with { State = StoredCircuitState.HalfOpen, StateTimestampUnixMs = Now + 60_000 }, CancellationToken.None);

        Assert.True(read.Exists);
        Assert.Equal(open, read.Snapshot);
        Assert.True(replaced.Succeeded);
        Assert.Equal(ExpiryFor(Now + 60_000), await ReadExpiryUnixMsAsync(id));
    }

    // dynalite has no UpdateTimeToLive: the table is created all the same, and expiries are written but never acted on.
    [Fact]
    public async Task CreateTableIfNotExistsAsync_ItemExpiryOnServerWithoutTimeToLive_CreatesTheTable()
    {
        var table = "item-expiry-" + Guid.NewGuid().ToString("N")[..8];
        using var store = new DynamoDbCircuitStateStore(_client, new DynamoDbCircuitStateStoreOptions { TableName = table, ItemExpiry = ItemExpiry });

        await store.CreateTableIfNotExistsAsync();

        Assert.Equal(TableStatus.ACTIVE, (await _client.DescribeTableAsync(table)).Table.TableStatus);
    }

    protected override ICircuitStateStore CreateStore(TimeSpan? itemExpiry) => CreateStore(itemExpiry, DynamoDbCircuitStateStoreOptions.DefaultItemExpiryAttributeName);

    protected override async Task<long?> ReadExpiryUnixMsAsync(string circuitId) =>
        (await DynamoDbServer.GetRawItemAsync(_client, Table, circuitId)).TryGetValue(DynamoDbCircuitStateStoreOptions.DefaultItemExpiryAttributeName, out var expiry)
            ? long.Parse(expiry.N, CultureInfo.InvariantCulture) * 1_000
            : null;

    private DynamoDbCircuitStateStore CreateStore(TimeSpan? itemExpiry, string attributeName)
    {
        DynamoDbServer.CreateStoreAsync(Table, _client).GetAwaiter().GetResult();
        return new DynamoDbCircuitStateStore(_client, new DynamoDbCircuitStateStoreOptions { TableName = Table, ItemExpiry = itemExpiry, ItemExpiryAttributeName = attributeName });
    }
}
