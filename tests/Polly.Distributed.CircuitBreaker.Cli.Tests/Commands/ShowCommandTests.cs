using System.Globalization;
using System.Text.Json;

namespace Polly.Distributed.CircuitBreaker.Cli.Tests.Commands;

public sealed class ShowCommandTests
{
    [Theory]
    [MemberData(nameof(StoreUnderTest.Kinds), MemberType = typeof(StoreUnderTest))]
    public async Task Show_CircuitOpenedByBreaker_PrintsEveryFieldAndOtherWritersAttributes(string kind)
    {
        await using var store = await StoreUnderTest.CreateAsync(kind);
        var clock = CliRun.FixedClock();
        await store.OpenByFailingCallsAsync("orders", clock);
        await store.SetAttributesAsync("orders", ("deployedBy", "env-42", false));

        var result = await CliRun.RunAsync(clock, store.Args("show", "orders"));

        Assert.True(result.ExitCode == 0, result.ToString());
        var lines = result.OutputLines;
        Assert.Equal("circuit            orders", lines[0]);
        Assert.Equal("store              " + store.LocationStart, lines[1]);
        Assert.Equal("state              OPEN", lines[2]);
        Assert.Equal("failure count      3 (last failure 2025-03-14 09:26:53 (now))", lines[3]);
        Assert.Equal("success count      0", lines[4]);
        Assert.Equal("next attempt       2025-03-14 09:27:23 (in 30 s)", lines[5]);
        Assert.Equal("consecutive opens  0", lines[6]);
        Assert.Equal("probe lease        none", lines[9]);
        Assert.Equal("other attributes", lines[^2]);
        Assert.Equal(kind == StoreUnderTest.DynamoDb ? "deployedBy  S env-42" : "deployedBy  env-42", lines[^1]);
    }

    [Theory]
    [MemberData(nameof(StoreUnderTest.Kinds), MemberType = typeof(StoreUnderTest))]
    public async Task Show_ItemWithAndWithoutExpiry_ShowsWhenItExpiresOrNever(string kind)
    {
        await using var store = await StoreUnderTest.CreateAsync(kind);
        var clock = CliRun.FixedClock();
        await store.OpenExpiringAsync("orders", clock, TimeSpan.FromHours(2));
        await store.OpenByFailingCallsAsync("kept", clock);

        var expiring = await CliRun.RunAsync(clock, store.Args("show", "orders"));
        var kept = await CliRun.RunAsync(clock, store.Args("show", "kept"));
        var json = await CliRun.RunAsync(clock, store.Args("show", "orders", "--json"));

        Assert.True(expiring.ExitCode == 0, expiring.ToString());
        Assert.Contains("expires            2025-03-14 11:26:53 (in 2 h)", expiring.OutputLines);
        Assert.Contains("expires            never", kept.OutputLines);
        Assert.DoesNotContain("expiresAt", expiring.Output, StringComparison.Ordinal);
        using var document = JsonDocument.Parse(json.Output);
        Assert.StartsWith("2025-03-14T11:26:53.", document.RootElement.GetProperty("expiresAtUtc").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Show_DynamoDbItemCountingFailures_ShowsRecentWriteIdCount()
    {
        await using var store = await StoreUnderTest.CreateAsync(StoreUnderTest.DynamoDb);
        var clock = CliRun.FixedClock();
        var breaker = new ResiliencePipelineBuilder { TimeProvider = clock }
            .AddDistributedCircuitBreaker(new DistributedCircuitBreakerStrategyOptions
            {
                CircuitId = "counting",
                StateStore = store.Store,
                Consistency = CircuitConsistency.Atomic,
                FailureThreshold = 10,
            })
            .Build();
        for (var call = 0; call < 2; call++)
        {
            await Assert.ThrowsAsync<InvalidOperationException>(async () =>
                await breaker.ExecuteAsync(_ => throw new InvalidOperationException("down"), TestContext.Current.CancellationToken));
        }

        var text = await CliRun.RunAsync(clock, store.Args("show", "counting"));
        var json = await CliRun.RunAsync(clock, store.Args("show", "counting", "--json"));

        Assert.True(text.ExitCode == 0, text.ToString());
        Assert.Contains("recent write ids   2", text.OutputLines);
        using var document = JsonDocument.Parse(json.Output);
        Assert.Equal(2, document.RootElement.GetProperty("recentWriteIds").GetInt32());
        Assert.Equal(2, document.RootElement.GetProperty("failureCount").GetInt64());
        Assert.StartsWith("SS [", document.RootElement.GetProperty("attributes").GetProperty("recentWriteIds").GetString(), StringComparison.Ordinal);
        Assert.Equal("S CLOSED", document.RootElement.GetProperty("attributes").GetProperty("circuitState").GetString());
    }

    [Theory]
    [MemberData(nameof(StoreUnderTest.Kinds), MemberType = typeof(StoreUnderTest))]
    public async Task Show_ProbeLeaseOfCurrentEpisode_ShowsOwnerExpiryAndEpisodeInFull(string kind)
    {
        await using var store = await StoreUnderTest.CreateAsync(kind);
        var clock = CliRun.FixedClock();
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var episode = (now - 1_000).ToString(CultureInfo.InvariantCulture);
        await store.WriteNodeItemAsync("probing", "HALF-OPEN", 0, now - 1_000, now - 1_000);
        await store.SetAttributesAsync(
            "probing",
            (CircuitSnapshotSchema.ProbeLeaseOwnerAttribute, "0123456789abcdef0123456789abcdef", false),
            (CircuitSnapshotSchema.ProbeLeaseExpiresAttribute, (now + 20_000).ToString(CultureInfo.InvariantCulture), true),
            (CircuitSnapshotSchema.ProbeLeaseEpisodeAttribute, episode, true));

        var result = await CliRun.RunAsync(clock, store.Args("show", "probing"));
        var json = await CliRun.RunAsync(clock, store.Args("show", "probing", "--json"));

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains($"probe lease        0123456789abcdef0123456789abcdef, expires 2025-03-14 09:27:13 (in 20 s), episode {episode} (held)", result.OutputLines);
        using var document = JsonDocument.Parse(json.Output);
        var lease = document.RootElement.GetProperty("probeLease");
        Assert.Equal("0123456789abcdef0123456789abcdef", lease.GetProperty("owner").GetString());
        Assert.Equal(now + 20_000, lease.GetProperty("expires").GetInt64());
        Assert.Equal(now - 1_000, lease.GetProperty("episode").GetInt64());
    }

    [Fact]
    public async Task Show_LeaseLeftFromEarlierEpisode_SaysItBlocksNoProbe()
    {
        await using var store = await StoreUnderTest.CreateAsync(StoreUnderTest.Redis);
        var clock = CliRun.FixedClock();
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        await store.WriteNodeItemAsync("reopened", "OPEN", 0, now + 10_000, now);
        await store.SetAttributesAsync(
            "reopened",
            (CircuitSnapshotSchema.ProbeLeaseOwnerAttribute, "old-owner", false),
            (CircuitSnapshotSchema.ProbeLeaseExpiresAttribute, (now + 5_000).ToString(CultureInfo.InvariantCulture), true),
            (CircuitSnapshotSchema.ProbeLeaseEpisodeAttribute, (now - 60_000).ToString(CultureInfo.InvariantCulture), true));

        var result = await CliRun.RunAsync(clock, store.Args("show", "reopened"));

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains(result.OutputLines, line => line.StartsWith("probe lease        old-owner,", StringComparison.Ordinal) && line.EndsWith("(left from an earlier episode: blocks no probe)", StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(StoreUnderTest.Kinds), MemberType = typeof(StoreUnderTest))]
    public async Task Show_NodeWrittenItem_ShowsItWithNoOtherAttributes(string kind)
    {
        await using var store = await StoreUnderTest.CreateAsync(kind);
        var clock = CliRun.FixedClock();
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        await store.WriteNodeItemAsync("node-fn", "CLOSED", 2, 0, now - 3_000);

        var result = await CliRun.RunAsync(clock, store.Args("show", "node-fn"));

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("state              CLOSED", result.OutputLines);
        Assert.Contains("failure count      2 (last failure 2025-03-14 09:26:50 (3 s ago))", result.OutputLines);
        Assert.Contains("next attempt       -", result.OutputLines);
        Assert.Contains("other attributes   none", result.OutputLines);
    }

    [Theory]
    [MemberData(nameof(StoreUnderTest.Kinds), MemberType = typeof(StoreUnderTest))]
    public async Task Show_MalformedItem_FlagsItAndShowsEveryStoredAttributeRaw(string kind)
    {
        await using var store = await StoreUnderTest.CreateAsync(kind);
        await store.SetAttributesAsync(
            "hostile",
            (CircuitSnapshotSchema.CircuitStateAttribute, "OPEN", false),
            (CircuitSnapshotSchema.NextAttemptAttribute, "soon", false),
            (CircuitSnapshotSchema.FailureCountAttribute, "4", true));

        var result = await CliRun.RunAsync(store.Args("show", "hostile"));
        var json = await CliRun.RunAsync(store.Args("show", "hostile", "--json"));

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("state              MALFORMED: nextAttempt 'soon' is not a non-negative number", result.OutputLines);
        Assert.Contains("breakers read it as CLOSED, and their next write replaces it", result.OutputLines);
        var dynamo = kind == StoreUnderTest.DynamoDb;
        Assert.Equal(
            ["stored attributes", dynamo ? "circuitState  S OPEN" : "circuitState  OPEN", dynamo ? "failureCount  N 4" : "failureCount  4", dynamo ? "nextAttempt   S soon" : "nextAttempt   soon"],
            result.OutputLines[^4..]);
        using var document = JsonDocument.Parse(json.Output);
        Assert.Equal("nextAttempt 'soon' is not a non-negative number", document.RootElement.GetProperty("malformed").GetString());
    }

    [Theory]
    [MemberData(nameof(StoreUnderTest.Kinds), MemberType = typeof(StoreUnderTest))]
    public async Task Show_UnknownId_Exits3NamingIt(string kind)
    {
        await using var store = await StoreUnderTest.CreateAsync(kind);

        var result = await CliRun.RunAsync(store.Args("show", "never-written"));

        Assert.Equal(CliExitCodes.NoSuchCircuit, result.ExitCode);
        Assert.Equal($"error: no circuit 'never-written' in {store.LocationStart}", result.Error.Trim());
        Assert.Empty(result.Output);
    }
}
