using Amazon.DynamoDBv2;
using Microsoft.Extensions.DependencyInjection;

namespace Polly.Distributed.CircuitBreaker.DynamoDb.Tests.DependencyInjection;

public sealed class DynamoDbCircuitStateStoreServiceCollectionExtensionsTests
{
    [Fact]
    public void AddDynamoDbCircuitStateStore_ClientRegistered_UsesIt()
    {
        using var client = new AmazonDynamoDBClient(new Amazon.Runtime.BasicAWSCredentials("a", "b"), new AmazonDynamoDBConfig { ServiceURL = "http://127.0.0.1:1" });
        using var services = new ServiceCollection()
            .AddSingleton<IAmazonDynamoDB>(client)
            .AddDynamoDbCircuitStateStore(o => o.TableName = "circuits")
            .BuildServiceProvider();

        var store = Assert.IsType<DynamoDbCircuitStateStore>(services.GetRequiredService<ICircuitStateStore>());

        Assert.Equal("circuits", store.TableName);
        Assert.Equal("http://127.0.0.1:1/", store.Endpoint.TrimEnd('/') + "/");
    }

    [Fact]
    public void AddDynamoDbCircuitStateStore_NoClientRegistered_BuildsOneForServiceUrl()
    {
        using var services = new ServiceCollection()
            .AddDynamoDbCircuitStateStore(o =>
            {
                o.TableName = "circuits";
                o.ServiceUrl = "http://127.0.0.1:8000";
            })
            .BuildServiceProvider();

        var store = Assert.IsType<DynamoDbCircuitStateStore>(services.GetRequiredService<ICircuitStateStore>());

        Assert.StartsWith("http://127.0.0.1:8000", store.Endpoint, StringComparison.Ordinal);
    }

    [Fact]
    public void AddDynamoDbCircuitStateStore_ReplacesEarlierStore()
    {
        using var services = new ServiceCollection()
            .AddInMemoryCircuitStateStore()
            .AddDynamoDbCircuitStateStore(o =>
            {
                o.TableName = "circuits";
                o.Region = "eu-west-1";
            })
            .BuildServiceProvider();

        Assert.Single(services.GetServices<ICircuitStateStore>());
        Assert.Equal("eu-west-1", Assert.IsType<DynamoDbCircuitStateStore>(services.GetRequiredService<ICircuitStateStore>()).Endpoint);
    }

    [Fact]
    public void Options_CircuitBreakerTableSet_IsTheDefaultTableName()
    {
        var previous = Environment.GetEnvironmentVariable("CIRCUITBREAKER_TABLE");
        Environment.SetEnvironmentVariable("CIRCUITBREAKER_TABLE", "circuits-from-env");
        try
        {
            Assert.Equal("circuits-from-env", new DynamoDbCircuitStateStoreOptions().TableName);
        }
        finally
        {
            Environment.SetEnvironmentVariable("CIRCUITBREAKER_TABLE", previous);
        }
    }

    [Fact]
    public void AddDynamoDbCircuitStateStore_NoTableName_ThrowsNamingTheVariable()
    {
        var error = Assert.Throws<ArgumentException>(() => new ServiceCollection().AddDynamoDbCircuitStateStore(o => o.TableName = null));

        Assert.Contains("CIRCUITBREAKER_TABLE", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ab")]
    [InlineData("bad table")]
    public void AddDynamoDbCircuitStateStore_InvalidTableName_Throws(string table)
    {
        var error = Assert.Throws<ArgumentException>(() => new ServiceCollection().AddDynamoDbCircuitStateStore(o => o.TableName = table));

        Assert.Contains($"'{table}' is invalid", error.Message, StringComparison.Ordinal);
    }
}
