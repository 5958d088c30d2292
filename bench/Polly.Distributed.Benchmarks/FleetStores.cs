using Amazon.DynamoDBv2;
using Amazon.Runtime;
using Polly.Distributed.CircuitBreaker;
using Polly.Distributed.CircuitBreaker.DynamoDb;
using Polly.Distributed.CircuitBreaker.Redis;
using Polly.Distributed.CircuitBreaker.TestKit;
using StackExchange.Redis;

namespace Polly.Distributed.Benchmarks;

/// <summary>
/// The stores a simulated fleet runs on: the in-memory store, and redis-server and dynalite when their address is given.
/// Each environment gets a store instance of its own over the shared state, as a process of its own would, so its own cache.
/// </summary>
internal sealed class FleetStores : IAsyncDisposable
{
    private readonly string? _dynamoDbUrl;
    private readonly AmazonDynamoDBClient? _dynamoDb;
    private readonly ConnectionMultiplexer? _redis;
    private readonly string _table;

    private FleetStores(string? dynamoDbUrl, AmazonDynamoDBClient? dynamoDb, ConnectionMultiplexer? redis, string table)
    {
        _dynamoDbUrl = dynamoDbUrl;
        _dynamoDb = dynamoDb;
        _redis = redis;
        _table = table;
    }

    /// <summary>Connects to the servers given (<see langword="null"/> skips one) and creates the DynamoDB table if needed.</summary>
    public static async Task<FleetStores> ConnectAsync(string? dynamoDbUrl, string? redis, string table)
    {
        var dynamoDb = dynamoDbUrl is null ? null : NewDynamoDbClient(dynamoDbUrl, cacheHttpClient: true);
        if (dynamoDb is not null)
        {
            await new DynamoDbCircuitStateStore(dynamoDb, new DynamoDbCircuitStateStoreOptions { TableName = table }).CreateTableIfNotExistsAsync();
        }

        return new FleetStores(dynamoDbUrl, dynamoDb, redis is null ? null : await ConnectionMultiplexer.ConnectAsync(redis), table);
    }

    /// <summary>The stores available, in table order, keeping only those in <paramref name="only"/> when it is given.</summary>
    public IEnumerable<string> Kinds(string[]? only) =>
        new[] { "memory", "redis", "dynamodb" }.Where(kind =>
            (kind != "redis" || _redis is not null) && (kind != "dynamodb" || _dynamoDb is not null) && (only is null || only.Contains(kind)));

    /// <summary>A source of store instances that share one state: call it once per environment.</summary>
    /// <param name="kind">The store.</param>
    /// <param name="ownClients">
    /// When given, each DynamoDB store instance gets a client of its own, with a connection pool of its own (as a process of its
    /// own would have), added here for the caller to dispose. Redis store instances share the one connection either way.
    /// </param>
    public Func<ICircuitStateStore> NewFleet(string kind, List<IDisposable>? ownClients = null)
    {
        var memory = new InMemoryCircuitStateStore();
        return kind switch
        {
            "redis" => () => new RedisCircuitStateStore(_redis!, new RedisCircuitStateStoreOptions()),
            "dynamodb" when ownClients is not null => () =>
            {
                var client = NewDynamoDbClient(_dynamoDbUrl!, cacheHttpClient: false);
                ownClients.Add(client);
                return new DynamoDbCircuitStateStore(client, new DynamoDbCircuitStateStoreOptions { TableName = _table });
            },
            "dynamodb" => () => new DynamoDbCircuitStateStore(_dynamoDb!, new DynamoDbCircuitStateStoreOptions { TableName = _table }),
            _ => () => new SeparateCacheStore(memory),
        };
    }

    public async ValueTask DisposeAsync()
    {
        _dynamoDb?.Dispose();
        if (_redis is not null)
        {
            await _redis.DisposeAsync();
        }
    }

    private static AmazonDynamoDBClient NewDynamoDbClient(string url, bool cacheHttpClient) =>
        new(new BasicAWSCredentials("local", "local"), new AmazonDynamoDBConfig { ServiceURL = url, AuthenticationRegion = "us-east-1", CacheHttpClient = cacheHttpClient });
}
