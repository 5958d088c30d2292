using System.Globalization;
using Polly.Distributed.CircuitBreaker.TestKit;

namespace Polly.Distributed.CircuitBreaker.Cli.Tests.Stores;

public sealed class RedisCircuitCatalogTests
{
    private const string Password = "s3cret-Pa55word";

    [Theory]
    [InlineData("redis://default:{0}@127.0.0.1:{1}")]
    [InlineData("127.0.0.1:{1},password={0}")]
    [InlineData("default:{0}@127.0.0.1:{1}")]
    public async Task Commands_PasswordProtectedServer_WorkAndNeverPrintThePassword(string form)
    {
        using var server = await ServerProcess.StartRedisAsync("--requirepass", Password);
        var connection = string.Format(CultureInfo.InvariantCulture, form, Password, server.Port);
        string[] store = ["--redis", connection, "--prefix", "protected:"];

        var isolate = await CliRun.RunAsync(["isolate", "orders", "--create", .. store]);
        var list = await CliRun.RunAsync(["list", .. store]);
        var show = await CliRun.RunAsync(["show", "orders", .. store]);
        var missing = await CliRun.RunAsync(["show", "other", .. store]);

        Assert.True(isolate.ExitCode == 0, isolate.ToString());
        Assert.True(list.ExitCode == 0, list.ToString());
        Assert.Contains($"1 circuit in Redis prefix 'protected:' at 127.0.0.1:{server.Port}", list.Output, StringComparison.Ordinal);
        Assert.Contains("state              ISOLATED", show.OutputLines);
        Assert.Equal(CliExitCodes.NoSuchCircuit, missing.ExitCode);
        foreach (var result in new[] { isolate, list, show, missing })
        {
            Assert.DoesNotContain(Password, result.Output + result.Error, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("redis://default:wrong-{0}@127.0.0.1:{1}")]
    [InlineData("127.0.0.1:{1}")]
    public async Task List_CredentialsRefused_Exits5SayingSoWithoutThePassword(string form)
    {
        using var server = await ServerProcess.StartRedisAsync("--requirepass", Password);
        var connection = string.Format(CultureInfo.InvariantCulture, form, Password, server.Port);

        var result = await CliRun.RunAsync("list", "--redis", connection);

        Assert.Equal(CliExitCodes.StoreError, result.ExitCode);
        Assert.Equal($"error: Redis at 127.0.0.1:{server.Port} refused the credentials", result.Error.Trim());
        Assert.DoesNotContain(Password, result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Commands_DatabaseInUri_ListAndChangeThatDatabase()
    {
        var prefix = "cli-db-" + Guid.NewGuid().ToString("N")[..8] + ":";
        var endpoint = RedisStoreUnderTest.ServerEndpoint;
        using var connection = RedisStoreUnderTest.Connect(endpoint);
        var inDatabase3 = new Polly.Distributed.CircuitBreaker.Redis.RedisCircuitStateStore(
            connection, new Polly.Distributed.CircuitBreaker.Redis.RedisCircuitStateStoreOptions { KeyPrefix = prefix, Database = 3 });
        await inDatabase3.WriteAsync("orders", CircuitSnapshot.Initial with { FailureCount = 2, StateTimestampUnixMs = 1 }, TestContext.Current.CancellationToken);
        string[] store = ["--redis", $"redis://{endpoint}/3", "--prefix", prefix];

        var list = await CliRun.RunAsync(["list", "--json", .. store]);
        var isolate = await CliRun.RunAsync(["isolate", "orders", .. store]);
        var inDefaultDatabase = await CliRun.RunAsync(["show", "orders", "--redis", endpoint, "--prefix", prefix]);

        Assert.True(list.ExitCode == 0, list.ToString());
        Assert.Contains("\"id\": \"orders\"", list.Output, StringComparison.Ordinal);
        Assert.True(isolate.ExitCode == 0, isolate.ToString());
        Assert.True((await inDatabase3.ReadAsync("orders", TestContext.Current.CancellationToken)).Snapshot.IsIsolated);
        Assert.Equal(CliExitCodes.NoSuchCircuit, inDefaultDatabase.ExitCode);
    }

    [Fact]
    public async Task List_UnreachableServer_Exits5NamingItWithoutThePassword()
    {
        var port = IntegrationEnvironment.FreeLoopbackPort();

        var result = await CliRun.RunAsync("list", "--redis", $"redis://oncall:{Password}@127.0.0.1:{port}/2", "--timeout", "1s");

        Assert.Equal(CliExitCodes.StoreError, result.ExitCode);
        Assert.StartsWith($"error: cannot reach Redis at 127.0.0.1:{port} (", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, result.Error, StringComparison.Ordinal);
        Assert.Single(result.Error.Trim().Split('\n'));
    }

    [Fact]
    public async Task Watch_ServerStopsAndRestarts_ReportsTheOutageOnceAndCarriesOn()
    {
        using var server = await ServerProcess.StartRedisAsync();
        string[] store = ["--redis", $"127.0.0.1:{server.Port}", "--prefix", "outage:", "--timeout", "500ms"];
        Assert.Equal(0, (await CliRun.RunAsync(["isolate", "orders", "--create", .. store])).ExitCode);
        var output = new SynchronizedStringWriter();
        var error = new SynchronizedStringWriter();
        using var interrupt = new CancellationTokenSource();

        var watch = CliApplication.RunAsync(["watch", "orders", "--interval", "100ms", .. store], output, error, CliRun.Environment(), interrupt.Token);
        await Until(() => output.ToString().Contains("ISOLATED", StringComparison.Ordinal));
        server.Stop();
        await Until(() => error.ToString().Contains("still watching", StringComparison.Ordinal));
        await Task.Delay(1_000, TestContext.Current.CancellationToken);
        await server.StartAsync();

        // The restarted server is empty: the circuit comes back isolated, then closed, which the watch must see.
        Assert.Equal(0, (await CliRun.RunAsync(["isolate", "orders", "--create", .. store])).ExitCode);
        Assert.Equal(0, (await CliRun.RunAsync(["close", "orders", .. store])).ExitCode);
        await Until(() => output.ToString().Contains("CLOSED", StringComparison.Ordinal));
        interrupt.Cancel();

        Assert.Equal(0, await watch.WaitAsync(TimeSpan.FromSeconds(20), TestContext.Current.CancellationToken));
        var outageLines = error.ToString().Split('\n').Count(line => line.Contains("still watching", StringComparison.Ordinal));

        // About ten polls failed; an outage is reported when it starts or its reason changes, not at every poll.
        Assert.InRange(outageLines, 1, 3);
        Assert.Contains($"Redis at 127.0.0.1:{server.Port}", error.ToString(), StringComparison.Ordinal);
    }

    private static async Task Until(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition did not hold within 20 s");
            await Task.Delay(20, TestContext.Current.CancellationToken);
        }
    }
}
