using Amazon.DynamoDBv2.Model;
using Polly.CircuitBreaker;

namespace Polly.Distributed.CircuitBreaker.DynamoDb.Tests;

/// <summary>Lease attributes of unexpected types are read the same way by the parser and by the claim condition.</summary>
public sealed class DynamoDbHostileLeaseTests : IDisposable
{
    private const string Table = "hostile-lease";
    private readonly Amazon.DynamoDBv2.AmazonDynamoDBClient _client = DynamoDbServer.CreateClient();

    public static TheoryData<string> Leases => ["owner empty string", "owner NULL", "owner BOOL", "expiry as string", "episode as string"];

    public void Dispose() => _client.Dispose();

    [Theory]
    [MemberData(nameof(Leases))]
    public async Task Execute_HalfOpenWithOddLeaseAndDeadDependency_OneCallReachesIt(string lease)
    {
        var circuitId = "hostile-" + Guid.NewGuid().ToString("N");
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var nextAttempt = new AttributeValue { N = (now - 1_000).ToString(System.Globalization.CultureInfo.InvariantCulture) };
        var future = (now + 20_000).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var item = new Dictionary<string, AttributeValue>
        {
            ["id"] = new() { S = circuitId },
            ["circuitState"] = new() { S = "HALF-OPEN" },
            ["nextAttempt"] = nextAttempt,
            ["stateTimestamp"] = new() { N = now.ToString(System.Globalization.CultureInfo.InvariantCulture) },
            ["probeLeaseOwner"] = lease switch
            {
                "owner empty string" => new() { S = string.Empty },
                "owner NULL" => new() { NULL = true },
                "owner BOOL" => new() { BOOL = true },
                _ => new() { S = "someone" },
            },
            ["probeLeaseExpires"] = lease == "expiry as string" ? new() { S = future } : new() { N = future },
            ["probeLeaseEpisode"] = lease == "episode as string" ? new() { S = nextAttempt.N } : nextAttempt,
        };
        await DynamoDbServer.CreateStoreAsync(Table, _client);
        await _client.UpdateItemAsync(new UpdateItemRequest
        {
            TableName = Table,
            Key = new() { ["id"] = item["id"] },
            UpdateExpression = "SET " + string.Join(", ", item.Keys.Where(k => k != "id").Select(k => $"#{k} = :{k}")),
            ExpressionAttributeNames = item.Keys.Where(k => k != "id").ToDictionary(k => "#" + k, k => k),
            ExpressionAttributeValues = item.Where(p => p.Key != "id").ToDictionary(p => ":" + p.Key, p => p.Value),
        });
        var reached = 0;

        await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => Task.Run(async () =>
        {
            var pipeline = new ResiliencePipelineBuilder()
                .AddDistributedCircuitBreaker(new DistributedCircuitBreakerStrategyOptions
                {
                    CircuitId = circuitId,
                    StateStore = new DynamoDbCircuitStateStore(_client, new DynamoDbCircuitStateStoreOptions { TableName = Table }),
                    Consistency = CircuitConsistency.Atomic,
                    StoreTimeout = TimeSpan.FromSeconds(5),
                })
                .Build();
            try
            {
                await pipeline.ExecuteAsync<int>(_ =>
                {
                    Interlocked.Increment(ref reached);
                    throw new HttpRequestException("down");
                });
            }
            catch (Exception ex) when (ex is HttpRequestException or BrokenCircuitException)
            {
            }
        })));

        Assert.InRange(reached, 0, 1);
    }
}
