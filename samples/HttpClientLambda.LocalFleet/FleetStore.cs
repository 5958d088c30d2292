using Amazon.DynamoDBv2;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Polly.Distributed.CircuitBreaker.DynamoDb;

namespace HttpClientLambda.LocalFleet;

/// <summary>Prepares the demo's store: the DynamoDB table must exist before the environments start.</summary>
internal static class FleetStore
{
    public static async Task CreateDynamoDbTableAsync(IReadOnlyDictionary<string, string> variables)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(variables.ToDictionary(p => p.Key, p => (string?)p.Value))
            .AddInMemoryCollection(new Dictionary<string, string?> { ["DOWNSTREAM_URL"] = "http://127.0.0.1/" })
            .Build();
        await using var services = FunctionServices.Build(configuration);
        await services.GetRequiredService<DynamoDbCircuitStateStore>().CreateTableIfNotExistsAsync();
    }
}
