using System.Text.Json;

namespace Polly.Distributed.CircuitBreaker.Cli.Tests.Commands;

public sealed class WatchCommandTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    [Theory]
    [MemberData(nameof(StoreUnderTest.Kinds), MemberType = typeof(StoreUnderTest))]
    public async Task Watch_CircuitOpensThenIsIsolated_PrintsALinePerChangeAndExits0OnInterrupt(string kind)
    {
        await using var store = await StoreUnderTest.CreateAsync(kind);
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        await store.WriteNodeItemAsync("orders", "CLOSED", 0, 0, now);
        var output = new SynchronizedStringWriter();
        var error = new SynchronizedStringWriter();
        using var interrupt = new CancellationTokenSource();

        var watch = CliApplication.RunAsync(store.Args("watch", "orders", "--interval", "100ms"), output, error, CliRun.Environment(), interrupt.Token);
        await WaitForLinesAsync(output, 1);
        // One write, as a Node process opens a circuit, so that no intermediate count can show up between two polls.
        await store.WriteNodeItemAsync("orders", "OPEN", 3, DateTimeOffset.UtcNow.AddSeconds(30).ToUnixTimeMilliseconds(), DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        await WaitForLinesAsync(output, 2);
        Assert.Equal(0, (await CliRun.RunAsync(store.Args("isolate", "orders"))).ExitCode);
        await WaitForLinesAsync(output, 3);
        await Task.Delay(300, TestContext.Current.CancellationToken);
        interrupt.Cancel();
        var exitCode = await watch.WaitAsync(Patience, TestContext.Current.CancellationToken);

        Assert.Equal(0, exitCode);
        var lines = Lines(output);
        Assert.Equal(3, lines.Length);
        Assert.Matches(@"^\d\d:\d\d:\d\d  CLOSED  failures 0$", lines[0]);
        Assert.Matches(@"^\d\d:\d\d:\d\d  OPEN  failures 3  next attempt \d\d:\d\d:\d\d \(in (29|30) s\)$", lines[1]);
        Assert.Matches(@"^\d\d:\d\d:\d\d  ISOLATED  failures 3  next attempt until closed manually$", lines[2]);
        Assert.StartsWith($"watching 'orders' in {store.LocationStart} every 100 ms", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Watch_Json_WritesOneObjectPerLineAndNullOnceRemoved()
    {
        await using var store = RedisStoreUnderTest.Create();
        await store.WriteNodeItemAsync("orders", "OPEN", 5, DateTimeOffset.UtcNow.AddMinutes(1).ToUnixTimeMilliseconds(), DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        var output = new SynchronizedStringWriter();
        using var interrupt = new CancellationTokenSource();

        var watch = CliApplication.RunAsync(store.Args("watch", "orders", "--interval", "100ms", "--json"), output, TextWriter.Null, CliRun.Environment(), interrupt.Token);
        await WaitForLinesAsync(output, 1);
        await RedisStoreUnderTest.Database.KeyDeleteAsync(store.Prefix + "orders");
        await WaitForLinesAsync(output, 2);
        interrupt.Cancel();

        Assert.Equal(0, await watch.WaitAsync(Patience, TestContext.Current.CancellationToken));
        var lines = Lines(output);
        using var first = JsonDocument.Parse(lines[0]);
        Assert.Equal("open", first.RootElement.GetProperty("circuit").GetProperty("state").GetString());
        Assert.Equal(5, first.RootElement.GetProperty("circuit").GetProperty("failureCount").GetInt64());
        Assert.EndsWith("Z", first.RootElement.GetProperty("time").GetString(), StringComparison.Ordinal);
        using var second = JsonDocument.Parse(lines[1]);
        Assert.Equal(JsonValueKind.Null, second.RootElement.GetProperty("circuit").ValueKind);
    }

    [Theory]
    [MemberData(nameof(StoreUnderTest.Kinds), MemberType = typeof(StoreUnderTest))]
    public async Task Watch_UnknownId_Exits3AtOnce(string kind)
    {
        await using var store = await StoreUnderTest.CreateAsync(kind);

        var result = await CliRun.RunAsync(store.Args("watch", "never-written"));

        Assert.Equal(CliExitCodes.NoSuchCircuit, result.ExitCode);
        Assert.Equal($"error: no circuit 'never-written' in {store.LocationStart}", result.Error.Trim());
    }

    [Fact]
    public async Task Watch_MissingTable_Exits5AtOnce()
    {
        var result = await CliRun.RunAsync("watch", "orders", "--table", "no-such-table", "--endpoint", DynamoDbStoreUnderTest.ServerUrl);

        Assert.Equal(CliExitCodes.StoreError, result.ExitCode);
        Assert.Equal($"error: the DynamoDB table 'no-such-table' does not exist at {DynamoDbStoreUnderTest.ServerUrl}", result.Error.Trim());
    }

    private static string[] Lines(SynchronizedStringWriter writer) =>
        writer.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static async Task WaitForLinesAsync(SynchronizedStringWriter writer, int count)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (Lines(writer).Length < count)
        {
            Assert.True(DateTime.UtcNow < deadline, $"waited {Patience.TotalSeconds} s for {count} lines; got:\n{writer}");
            await Task.Delay(20, TestContext.Current.CancellationToken);
        }
    }
}
