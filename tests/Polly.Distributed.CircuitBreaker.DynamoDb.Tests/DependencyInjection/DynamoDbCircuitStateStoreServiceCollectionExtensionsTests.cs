using System.Diagnostics;
using System.Net;
using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using Amazon.Runtime;
using Microsoft.Extensions.DependencyInjection;
using Polly.Distributed.CircuitBreaker.TestKit;

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

    [Theory]
    [InlineData(-1.0)]
    [InlineData(0.0)]
    [InlineData(0.99)]
    [InlineData(3651 * 24.0)]
    public void AddDynamoDbCircuitStateStore_ItemExpiryOutOfRange_ThrowsNamingTheRule(double hours)
    {
        var error = Assert.Throws<ArgumentException>(() => new ServiceCollection().AddDynamoDbCircuitStateStore(o =>
        {
            o.TableName = "circuits";
            o.ItemExpiry = TimeSpan.FromHours(hours);
        }));

        Assert.Contains("ItemExpiry", error.Message, StringComparison.Ordinal);
        Assert.Contains("MaxBreakDuration", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("id")]
    [InlineData("nextAttempt")]
    [InlineData("recentWriteIds")]
    public void AddDynamoDbCircuitStateStore_ItemExpiryAttributeNameTakenOrEmpty_Throws(string name)
    {
        var error = Assert.Throws<ArgumentException>(() => new ServiceCollection().AddDynamoDbCircuitStateStore(o =>
        {
            o.TableName = "circuits";
            o.ItemExpiryAttributeName = name;
        }));

        Assert.Contains($"ItemExpiryAttributeName '{name}' is invalid", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AddDynamoDbCircuitStateStore_ItemExpiry_StoreWritesIt()
    {
        using var client = DynamoDbServer.CreateClient();
        await DynamoDbServer.CreateStoreAsync("di-expiry", client);
        using var services = new ServiceCollection()
            .AddSingleton<IAmazonDynamoDB>(client)
            .AddDynamoDbCircuitStateStore(o =>
            {
                o.TableName = "di-expiry";
                o.ItemExpiry = TimeSpan.FromDays(7);
                o.ItemExpiryAttributeName = "ttl";
            })
            .BuildServiceProvider();
        var now = TimeProvider.System.GetUtcNow().ToUnixTimeMilliseconds();

        await services.GetRequiredService<ICircuitStateStore>().WriteAsync("orders", new CircuitSnapshot { StateTimestampUnixMs = now }, CancellationToken.None);

        var item = await DynamoDbServer.GetRawItemAsync(client, "di-expiry", "orders");
        Assert.Equal((now + (long)TimeSpan.FromDays(7).TotalMilliseconds + 999) / 1_000, long.Parse(item["ttl"].N, System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void AddDynamoDbCircuitStateStore_NoClientRegistered_BuildsClientWithStandardRetriesOneRetryAndTwoSecondTimeout()
    {
        using var services = new ServiceCollection()
            .AddDynamoDbCircuitStateStore(o =>
            {
                o.TableName = "circuits";
                o.ServiceUrl = "http://127.0.0.1:8000";
            })
            .BuildServiceProvider();

        var config = services.GetRequiredService<DynamoDbCircuitStateStore>().Client.Config;

        Assert.Equal(RequestRetryMode.Standard, config.RetryMode);
        Assert.Equal(1, config.MaxErrorRetry);
        Assert.True(config.ThrottleRetries);
        Assert.Equal(TimeSpan.FromSeconds(2), config.Timeout);
    }

    [Fact]
    public void AddDynamoDbCircuitStateStore_ClientRegistered_KeepsItsRetrySettings()
    {
        using var client = new AmazonDynamoDBClient(new BasicAWSCredentials("a", "b"), new AmazonDynamoDBConfig { ServiceURL = "http://127.0.0.1:1", MaxErrorRetry = 4 });
        using var services = new ServiceCollection()
            .AddSingleton<IAmazonDynamoDB>(client)
            .AddDynamoDbCircuitStateStore(o => o.TableName = "circuits")
            .BuildServiceProvider();

        var config = services.GetRequiredService<DynamoDbCircuitStateStore>().Client.Config;

        Assert.Equal(4, config.MaxErrorRetry);
        Assert.Null(config.Timeout);
    }

    [Fact]
    public async Task CreateClientConfig_ServerErrors_SendsOneRetry()
    {
        using var server = new LoopbackDownstream { Status = HttpStatusCode.InternalServerError, Body = ErrorBody("InternalServerError") };
        using var store = StoreWithBuiltConfig(server.Url);

        await Assert.ThrowsAsync<CircuitStateStoreException>(async () => await store.ReadAsync("c", CancellationToken.None));

        Assert.Equal(2, server.Requests);
    }

    // The SDK has no setting that stops retries of throttled requests; its default for DynamoDB would send this one 11 times
    // over about two minutes.
    [Fact]
    public async Task CreateClientConfig_TableThrottles_SendsOneRetry()
    {
        using var server = new LoopbackDownstream { Status = HttpStatusCode.BadRequest, Body = ErrorBody("ProvisionedThroughputExceededException") };
        using var store = StoreWithBuiltConfig(server.Url);

        var error = await Assert.ThrowsAsync<CircuitStateStoreException>(async () => await store.ReadAsync("c", CancellationToken.None));

        Assert.IsType<ProvisionedThroughputExceededException>(error.InnerException);
        Assert.Equal(2, server.Requests);
    }

    // Without a token (the breaker always passes one), a request gives up after two attempts of the request timeout each.
    [Fact]
    public async Task CreateClientConfig_EndpointNeverAnswers_GivesUpAfterTwoTimedOutAttemptsNamingTableAndEndpoint()
    {
        using var server = new LoopbackDownstream { Delay = TimeSpan.FromSeconds(30) };
        using var store = StoreWithBuiltConfig(server.Url);

        var watch = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<CircuitStateStoreException>(async () => await store.ReadAsync("c", CancellationToken.None));

        // Two attempts of 2 s each, not the SDK's default of eleven. The socket handler may resend a request on its own when an
        // abandoned connection is reused, so the server can see up to one more per attempt.
        Assert.InRange(watch.Elapsed, TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(12));
        Assert.InRange(server.Requests, 2, 4);
        Assert.IsType<TimeoutException>(error.InnerException);
        Assert.Contains($"table 'circuits' at {server.Url.ToString().TrimEnd('/')}", error.Message, StringComparison.Ordinal);
    }

    private static DynamoDbCircuitStateStore StoreWithBuiltConfig(Uri serviceUrl)
    {
        var options = new DynamoDbCircuitStateStoreOptions { TableName = "circuits", ServiceUrl = serviceUrl.ToString() };
        var client = new AmazonDynamoDBClient(new BasicAWSCredentials("local", "local"), DynamoDbCircuitStateStoreServiceCollectionExtensions.CreateClientConfig(options));
        return new DynamoDbCircuitStateStore(client, options, ownsClient: true);
    }

    private static string ErrorBody(string type) => $$"""{"__type":"com.amazonaws.dynamodb.v20120810#{{type}}","message":"from the test server"}""";
}
