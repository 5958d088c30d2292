using Amazon.DynamoDBv2;
using Amazon.Runtime;
using Polly.Distributed.CircuitBreaker;
using Polly.Distributed.CircuitBreaker.DynamoDb;
using Polly.Distributed.CircuitBreaker.Redis;
using Polly.Distributed.CircuitBreaker.TestKit;
using StackExchange.Redis;

namespace Polly.Distributed.Benchmarks;

/// <summary>README's "Failure behaviour" table: the fault suite's scenarios (<see cref="StoreFaultScenario"/>), measured.</summary>
internal static class FailureBehaviour
{
    private static readonly TimeSpan StoreTimeout = TimeSpan.FromMilliseconds(300);

    public static async Task<int> RunAsync(string dynamoDbUrl, string redis, TextWriter output)
    {
        var dynamoDbPort = new Uri(dynamoDbUrl).Port;
        using (var client = DynamoDbClient(dynamoDbPort))
        {
            await new DynamoDbCircuitStateStore(client, new DynamoDbCircuitStateStoreOptions { TableName = "failure-behaviour" }).CreateTableIfNotExistsAsync();
        }

        output.WriteLine($"StoreTimeout {StoreTimeout.TotalMilliseconds:0} ms; per fault, 24 protected calls (half succeed, half fail), 4 at a time, through a loopback fault proxy.");
        output.WriteLine();
        output.WriteLine("| store | fault | calls | exceptions that reached callers | wrong results | state lost | worst call |");
        output.WriteLine("|---|---|---:|---:|---:|---:|---:|");
        foreach (var fault in StoreFaultScenario.Faults)
        {
            Print(output, "DynamoDB", await StoreFaultScenario.RunAsync(fault, dynamoDbPort, port => new DynamoDbCircuitStateStore(DynamoDbClient(port), new DynamoDbCircuitStateStoreOptions { TableName = "failure-behaviour" }), StoreTimeout));
        }

        var redisPort = int.Parse(redis.Split(':')[^1], System.Globalization.CultureInfo.InvariantCulture);
        foreach (var fault in StoreFaultScenario.Faults)
        {
            Print(output, "Redis", await StoreFaultScenario.RunAsync(fault, redisPort, port => new RedisCircuitStateStore(RedisConnection(port), new RedisCircuitStateStoreOptions()), StoreTimeout));
        }

        return 0;
    }

    private static void Print(TextWriter output, string store, StoreFaultResult result) =>
        output.WriteLine($"| {store} | {result.Fault} | {result.Calls} | {result.ForeignExceptions} | {result.WrongResults} | {(result.StateIntact ? 0 : 1)} | {result.WorstCallTime.TotalMilliseconds:0} ms |");

    private static AmazonDynamoDBClient DynamoDbClient(int port) => new(
        new BasicAWSCredentials("local", "local"),
        new AmazonDynamoDBConfig { ServiceURL = $"http://127.0.0.1:{port}", AuthenticationRegion = "us-east-1", Timeout = TimeSpan.FromSeconds(5) });

    private static ConnectionMultiplexer RedisConnection(int port)
    {
        var configuration = ConfigurationOptions.Parse($"127.0.0.1:{port}");
        configuration.AbortOnConnectFail = false;
        configuration.ConnectTimeout = 2_000;
        configuration.ReconnectRetryPolicy = new LinearRetry(100);
        return ConnectionMultiplexer.Connect(configuration);
    }
}
