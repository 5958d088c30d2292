#:project ../src/Providers.DynamoDb/Polly.Distributed.CircuitBreaker.DynamoDb.csproj

// Fails calls through a distributed breaker, as a service of the fleet would, for the transcript of eng/cli-demo.sh:
// five failures open the circuit (threshold 5), fewer leave it closed with its count. Items expire a day after their
// state is over (ItemExpiry), so the transcript shows the EXPIRES column filled.
// Usage: dotnet run eng/open-circuit.cs TABLE ENDPOINT CIRCUIT_ID FAILURES
using System.Globalization;
using Amazon.DynamoDBv2;
using Amazon.Runtime;
using Polly;
using Polly.Distributed.CircuitBreaker;
using Polly.Distributed.CircuitBreaker.DynamoDb;

var (table, endpoint, circuitId, failures) = (args[0], args[1], args[2], int.Parse(args[3], CultureInfo.InvariantCulture));
using var client = new AmazonDynamoDBClient(new BasicAWSCredentials("local", "local"), new AmazonDynamoDBConfig { ServiceURL = endpoint, AuthenticationRegion = "us-east-1" });
var store = new DynamoDbCircuitStateStore(client, new DynamoDbCircuitStateStoreOptions { TableName = table, ItemExpiry = TimeSpan.FromDays(1) });
await store.CreateTableIfNotExistsAsync();
var pipeline = new ResiliencePipelineBuilder()
    .AddDistributedCircuitBreaker(new DistributedCircuitBreakerStrategyOptions { CircuitId = circuitId, StateStore = store, FailureThreshold = 5 })
    .Build();
for (var call = 0; call < failures; call++)
{
    try
    {
        await pipeline.ExecuteAsync(_ => throw new HttpRequestException("503 Service Unavailable"));
    }
    catch (HttpRequestException)
    {
        // The failure the breaker counts.
    }
}
