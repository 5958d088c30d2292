using System.Net;
using Amazon.DynamoDBv2;
using Amazon.Runtime;
using Polly.Distributed.CircuitBreaker.Cli.Stores;
using Polly.Distributed.CircuitBreaker.TestKit;

namespace Polly.Distributed.CircuitBreaker.Cli.Tests.Stores;

public sealed class DynamoDbCircuitCatalogTests
{
    [Theory]
    [InlineData("list")]
    [InlineData("show")]
    [InlineData("isolate")]
    [InlineData("close")]
    public async Task Command_MissingTable_Exits5NamingTableAndEndpoint(string command)
    {
        var url = DynamoDbStoreUnderTest.ServerUrl;
        string[] args = command == "list" ? ["list"] : [command, "orders"];

        var result = await CliRun.RunAsync([.. args, "--table", "no-such-table", "--endpoint", url]);

        Assert.Equal(CliExitCodes.StoreError, result.ExitCode);
        Assert.Equal($"error: the DynamoDB table 'no-such-table' does not exist at {url}", result.Error.Trim());
    }

    [Fact]
    public async Task List_UnreachableEndpoint_Exits5NamingEndpointAndTable()
    {
        var url = $"http://127.0.0.1:{IntegrationEnvironment.FreeLoopbackPort()}";

        var result = await CliRun.RunAsync("list", "--table", "circuits", "--endpoint", url);

        Assert.Equal(CliExitCodes.StoreError, result.ExitCode);
        Assert.StartsWith($"error: cannot reach DynamoDB at {url} (table 'circuits'): ", result.Error, StringComparison.Ordinal);
        Assert.Single(result.Error.Trim().Split('\n'));
    }

    [Fact]
    public async Task List_EndpointThatNeverAnswers_Exits5AfterTheTimeout()
    {
        using var silent = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var url = $"http://127.0.0.1:{((IPEndPoint)silent.LocalEndpoint).Port}";
        var started = DateTime.UtcNow;

        var result = await CliRun.RunAsync("list", "--table", "circuits", "--endpoint", url, "--timeout", "500ms");

        Assert.Equal(CliExitCodes.StoreError, result.ExitCode);
        Assert.Contains($"DynamoDB at {url} (table 'circuits')", result.Error, StringComparison.Ordinal);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(5), $"took {DateTime.UtcNow - started}");
    }

    [Fact]
    public async Task List_TableFromEnvironment_ListsIt()
    {
        await using var store = await DynamoDbStoreUnderTest.CreateAsync();
        await store.WriteNodeItemAsync("orders", "CLOSED", 0, 0, 1);
        var environment = CliRun.Environment(variables: new Dictionary<string, string> { ["CIRCUITBREAKER_TABLE"] = store.Table });

        var result = await CliRun.RunAsync(environment, "list", "--endpoint", store.Url, "--json");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("\"id\": \"orders\"", result.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("UnrecognizedClientException")]
    [InlineData("InvalidSignatureException")]
    [InlineData("ExpiredTokenException")]
    public async Task Explain_CredentialsRefused_SaysSoWithoutTheKey(string errorCode)
    {
        await using var catalog = await OpenAsync();
        var refused = new AmazonDynamoDBException("The security token included in the request is invalid.") { ErrorCode = errorCode, StatusCode = HttpStatusCode.BadRequest };

        var failure = catalog.Explain(new CircuitStateStoreException("GetItem failed", refused));

        Assert.NotNull(failure);
        Assert.Equal(CliExitCodes.StoreError, failure.ExitCode);
        Assert.Equal(
            $"DynamoDB at http://127.0.0.1:1 (table 'circuits') refused the AWS credentials ({errorCode}): check AWS_PROFILE, AWS_ACCESS_KEY_ID or the role the tool runs with",
            failure.Message);
    }

    [Fact]
    public async Task Explain_AccessDenied_QuotesWhatAwsDenied()
    {
        await using var catalog = await OpenAsync();
        var denied = new AmazonDynamoDBException("User: arn:aws:iam::123456789012:user/oncall is not authorized to perform: dynamodb:Scan")
        {
            ErrorCode = "AccessDeniedException",
            StatusCode = HttpStatusCode.BadRequest,
        };

        var failure = catalog.Explain(denied);

        Assert.NotNull(failure);
        Assert.EndsWith("denied the request: User: arn:aws:iam::123456789012:user/oncall is not authorized to perform: dynamodb:Scan", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Explain_NoCredentialsFound_SaysWhereTheyComeFrom()
    {
        await using var catalog = await OpenAsync();

        var failure = catalog.Explain(new AmazonClientException("Failed to resolve AWS credentials. The credential providers used to search for credentials returned the following errors: ..."));

        Assert.NotNull(failure);
        Assert.StartsWith("no AWS credentials for DynamoDB at http://127.0.0.1:1 (table 'circuits'): set AWS_PROFILE", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Explain_ErrorOfAnotherKind_IsNotTheStores()
    {
        await using var catalog = await OpenAsync();

        Assert.Null(catalog.Explain(new InvalidOperationException("a defect")));
    }

    [Fact]
    public async Task Open_EndpointWithUserInfo_NamesItWithout()
    {
        await using var catalog = await new DynamoDbTarget("circuits", "http://user:secret@127.0.0.1:1/", null, "expiresAt")
            .OpenAsync(CliRun.Environment(), TimeSpan.FromSeconds(1), TestContext.Current.CancellationToken);

        Assert.Equal("DynamoDB table 'circuits' at http://127.0.0.1:1/", catalog.Location);
    }

    private static Task<ICircuitCatalog> OpenAsync() =>
        new DynamoDbTarget("circuits", "http://127.0.0.1:1", null, "expiresAt").OpenAsync(CliRun.Environment(), TimeSpan.FromSeconds(1), TestContext.Current.CancellationToken);
}
