namespace Polly.Distributed.CircuitBreaker.Cli.Tests;

public sealed class CliApplicationTests
{
    [Fact]
    public async Task Run_NoCommand_Exits2PointingAtHelp()
    {
        var result = await CliRun.RunAsync();

        Assert.Equal(CliExitCodes.UsageError, result.ExitCode);
        Assert.EndsWith("Run 'circuitbreaker --help' for usage.", result.Error.Trim(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("list", "--colour")]
    [InlineData("frobnicate")]
    [InlineData("show")]
    [InlineData("close", "orders", "--if-state", "ajar")]
    [InlineData("watch", "orders", "--interval", "soon")]
    [InlineData("list", "--timeout", "-1s")]
    public async Task Run_CommandLineThatDoesNotParse_Exits2WithoutTouchingAStore(params string[] args)
    {
        var result = await CliRun.RunAsync([.. args, "--table", "circuits", "--endpoint", "http://127.0.0.1:1"]);

        Assert.Equal(CliExitCodes.UsageError, result.ExitCode);
        Assert.StartsWith("error: ", result.Error, StringComparison.Ordinal);
        Assert.Empty(result.Output);
    }

    [Fact]
    public async Task Run_NoStoreNamed_Exits2NamingBothWays()
    {
        var result = await CliRun.RunAsync("list");

        Assert.Equal(CliExitCodes.UsageError, result.ExitCode);
        Assert.Equal(
            "error: no store named: pass --table NAME (or set CIRCUITBREAKER_TABLE) for DynamoDB, or --redis CONNECTION (or set CIRCUITBREAKER_REDIS) for Redis",
            result.Error.Trim());
    }

    [Fact]
    public async Task Run_RedisAndTableTogether_Exits2()
    {
        var result = await CliRun.RunAsync("list", "--redis", "127.0.0.1:1", "--table", "circuits");

        Assert.Equal(CliExitCodes.UsageError, result.ExitCode);
        Assert.Equal("error: name one store: --redis, or --table with --endpoint or --region", result.Error.Trim());
    }

    [Fact]
    public async Task Run_ExpiryAttributeWithRedis_Exits2()
    {
        var result = await CliRun.RunAsync("list", "--redis", "127.0.0.1:1", "--expiry-attribute", "ttl");

        Assert.Equal(CliExitCodes.UsageError, result.ExitCode);
        Assert.Equal("error: --expiry-attribute is for DynamoDB: a Redis key's expiry is the key's own", result.Error.Trim());
    }

    [Fact]
    public async Task Run_PrefixWithDynamoDb_Exits2()
    {
        var result = await CliRun.RunAsync("list", "--table", "circuits", "--prefix", "cb:");

        Assert.Equal(CliExitCodes.UsageError, result.ExitCode);
        Assert.Equal("error: --prefix is for Redis: name the server with --redis", result.Error.Trim());
    }

    [Theory]
    [InlineData("--table", "ab")]
    [InlineData("--endpoint", "not a url")]
    [InlineData("--redis", "redis://:pw@/")]
    public async Task Run_StoreOptionThatIsInvalid_Exits2(string option, string value)
    {
        string[] store = option == "--redis" ? [option, value] : option == "--table" ? [option, value] : ["--table", "circuits", option, value];

        var result = await CliRun.RunAsync(["list", .. store]);

        Assert.Equal(CliExitCodes.UsageError, result.ExitCode);
        Assert.DoesNotContain("pw", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_RedisFromEnvironment_WinsOverTableFromEnvironmentAsInTheSidecar()
    {
        var environment = CliRun.Environment(variables: new Dictionary<string, string>
        {
            ["CIRCUITBREAKER_REDIS"] = "127.0.0.1:1",
            ["CIRCUITBREAKER_TABLE"] = "circuits",
        });

        var result = await CliRun.RunAsync(environment, "list", "--timeout", "1s");

        Assert.Equal(CliExitCodes.StoreError, result.ExitCode);
        Assert.StartsWith("error: cannot reach Redis at 127.0.0.1:1", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_Help_DescribesCommandsStoresAndExitCodes()
    {
        var result = await CliRun.RunAsync("--help");

        Assert.Equal(0, result.ExitCode);
        foreach (var expected in new[] { "list", "show <id>", "isolate <id>", "close <id>", "watch <id>", "--table", "--endpoint", "--region", "--redis", "--prefix", "dynamodb:Scan", "Exit codes:" })
        {
            Assert.Contains(expected, result.Output, StringComparison.Ordinal);
        }

        Assert.Contains("  4    guard failed", result.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("list", "dynamodb:Scan")]
    [InlineData("show", "dynamodb:GetItem")]
    [InlineData("isolate", "--create")]
    [InlineData("close", "--if-state <closed|open|half-open|isolated>")]
    [InlineData("watch", "--interval")]
    public async Task Run_CommandHelp_DescribesItsOptionsAndExitCodes(string command, string expected)
    {
        var result = await CliRun.RunAsync(command, "--help");

        Assert.Equal(0, result.ExitCode);
        Assert.Contains(expected, result.Output, StringComparison.Ordinal);
        Assert.Contains("  5    store error", result.Output, StringComparison.Ordinal);
    }
}
