using System.Text.Json;

namespace Polly.Distributed.CircuitBreaker.Cli.Tests.Commands;

public sealed class ListCommandTests
{
    [Theory]
    [MemberData(nameof(StoreUnderTest.Kinds), MemberType = typeof(StoreUnderTest))]
    public async Task List_CircuitOpenedByBreaker_PrintsAlignedRowWithLocalAndRelativeTimes(string kind)
    {
        await using var store = await StoreUnderTest.CreateAsync(kind);
        var clock = CliRun.FixedClock();
        await store.OpenByFailingCallsAsync("orders", clock);
        await store.WriteNodeItemAsync("payments", "CLOSED", 1, 0, clock.GetUtcNow().AddMinutes(-4).ToUnixTimeMilliseconds());

        var result = await CliRun.RunAsync(clock, store.Args("list"));

        Assert.True(result.ExitCode == 0, result.ToString());
        var lines = result.OutputLines;
        Assert.Equal("ID        STATE   FAILURES  NEXT ATTEMPT        PROBE LEASE  LAST CHANGE           EXPIRES", lines[0]);
        Assert.Equal("orders    OPEN           3  09:27:23 (in 30 s)  -            09:26:53 (now)        -", lines[1]);
        Assert.Equal("payments  CLOSED         1  -                   -            09:22:53 (4 min ago)  -", lines[2]);
        Assert.StartsWith("2 circuits in " + store.LocationStart, lines[3]);
        Assert.EndsWith("times are local (UTC+00:00)", lines[3]);
    }

    [Theory]
    [MemberData(nameof(StoreUnderTest.Kinds), MemberType = typeof(StoreUnderTest))]
    public async Task List_Json_WritesArrayOfObjectsWithStablePropertyNames(string kind)
    {
        await using var store = await StoreUnderTest.CreateAsync(kind);
        var clock = CliRun.FixedClock();
        await store.OpenByFailingCallsAsync("orders", clock);

        var result = await CliRun.RunAsync(clock, store.Args("list", "--json"));

        Assert.True(result.ExitCode == 0, result.ToString());
        using var json = JsonDocument.Parse(result.Output);
        var circuit = Assert.Single(json.RootElement.EnumerateArray());
        string[] expected =
        [
            "id", "state", "malformed", "failureCount", "successCount", "nextAttempt", "nextAttemptUtc", "lastFailureTime",
            "lastFailureTimeUtc", "consecutiveOpens", "stateTimestamp", "stateTimestampUtc", "schemaVersion", "probeLease",
            "openedBy", "openedReason", "failingEnvironments", "expiresAt", "expiresAtUtc",
        ];
        Assert.Equal(expected, circuit.EnumerateObject().Select(p => p.Name));
        Assert.Equal("orders", circuit.GetProperty("id").GetString());
        Assert.Equal("open", circuit.GetProperty("state").GetString());
        Assert.Equal(JsonValueKind.Null, circuit.GetProperty("malformed").ValueKind);
        Assert.Equal(3, circuit.GetProperty("failureCount").GetInt64());
        Assert.Equal(clock.GetUtcNow().Add(StoreUnderTest.BreakDuration).ToUnixTimeMilliseconds(), circuit.GetProperty("nextAttempt").GetInt64());
        Assert.Equal("2025-03-14T09:27:23.000Z", circuit.GetProperty("nextAttemptUtc").GetString());
        Assert.Equal(JsonValueKind.Null, circuit.GetProperty("probeLease").ValueKind);
        Assert.Equal(DistributedCircuitBreakerEnvironment.Id, circuit.GetProperty("openedBy").GetString());
        Assert.Equal(0, circuit.GetProperty("failingEnvironments").GetArrayLength());
        Assert.Equal(JsonValueKind.Null, circuit.GetProperty("expiresAt").ValueKind);
        Assert.Equal(JsonValueKind.Null, circuit.GetProperty("expiresAtUtc").ValueKind);
    }

    [Theory]
    [MemberData(nameof(StoreUnderTest.Kinds), MemberType = typeof(StoreUnderTest))]
    public async Task List_ItemWithExpiry_ShowsWhenItExpires(string kind)
    {
        await using var store = await StoreUnderTest.CreateAsync(kind);
        var clock = CliRun.FixedClock();
        await store.OpenExpiringAsync("orders", clock, TimeSpan.FromHours(2));
        await store.WriteNodeItemAsync("payments", "CLOSED", 1, 0, clock.GetUtcNow().AddMinutes(-4).ToUnixTimeMilliseconds());

        var result = await CliRun.RunAsync(clock, store.Args("list"));
        var json = await CliRun.RunAsync(clock, store.Args("list", "--json"));

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.EndsWith("  EXPIRES", result.OutputLines[0], StringComparison.Ordinal);
        Assert.EndsWith("  11:26:53 (in 2 h)", result.OutputLines[1], StringComparison.Ordinal);
        Assert.EndsWith("  -", result.OutputLines[2], StringComparison.Ordinal);
        using var document = JsonDocument.Parse(json.Output);
        var circuits = document.RootElement.EnumerateArray().ToDictionary(c => c.GetProperty("id").GetString()!);
        var expiresAt = circuits["orders"].GetProperty("expiresAt").GetInt64();
        Assert.InRange(expiresAt - clock.GetUtcNow().AddHours(2).ToUnixTimeMilliseconds(), 0, 999);
        Assert.StartsWith("2025-03-14T11:26:53.", circuits["orders"].GetProperty("expiresAtUtc").GetString(), StringComparison.Ordinal);
        Assert.Equal(JsonValueKind.Null, circuits["payments"].GetProperty("expiresAt").ValueKind);
    }

    [Fact]
    public async Task List_ExpiryAttributeNamed_ReadsThatAttribute()
    {
        await using var store = await StoreUnderTest.CreateAsync(StoreUnderTest.DynamoDb);
        var clock = CliRun.FixedClock();
        await store.OpenExpiringAsync("orders", clock, TimeSpan.FromDays(3), attribute: "ttl");

        var named = await CliRun.RunAsync(clock, store.Args("list", "--expiry-attribute", "ttl"));
        var unnamed = await CliRun.RunAsync(clock, store.Args("list"));

        Assert.True(named.ExitCode == 0, named.ToString());
        Assert.EndsWith("  2025-03-17 09:26:53 (in 3 d)", named.OutputLines[1], StringComparison.Ordinal);
        Assert.EndsWith("  -", unnamed.OutputLines[1], StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(StoreUnderTest.Kinds), MemberType = typeof(StoreUnderTest))]
    public async Task List_NodeWrittenItem_ShowsItsStateUnflagged(string kind)
    {
        await using var store = await StoreUnderTest.CreateAsync(kind);
        var clock = CliRun.FixedClock();
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        await store.WriteNodeItemAsync("node-fn", "OPEN", 5, now + 8_000, now - 2_000);

        var result = await CliRun.RunAsync(clock, store.Args("list"));

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("node-fn  OPEN          5  09:27:01 (in 8 s)  -            09:26:51 (2 s ago)  -", result.OutputLines[1]);
        Assert.DoesNotContain("MALFORMED", result.Output, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(StoreUnderTest.Kinds), MemberType = typeof(StoreUnderTest))]
    public async Task List_MalformedItems_FlagsThemAndListsTheOthers(string kind)
    {
        await using var store = await StoreUnderTest.CreateAsync(kind);
        var clock = CliRun.FixedClock();
        await store.OpenByFailingCallsAsync("healthy", clock);
        await store.SetAttributesAsync("bad-state", (CircuitSnapshotSchema.CircuitStateAttribute, "BROKEN", false));
        await store.SetAttributesAsync("bad-count", (CircuitSnapshotSchema.CircuitStateAttribute, "OPEN", false), (CircuitSnapshotSchema.FailureCountAttribute, "many", false));

        var result = await CliRun.RunAsync(clock, store.Args("list"));
        var json = await CliRun.RunAsync(clock, store.Args("list", "--json"));

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("bad-count  MALFORMED         -  -                   -            -               -", result.OutputLines[1]);
        Assert.Equal("bad-state  MALFORMED         -  -                   -            -               -", result.OutputLines[2]);
        Assert.StartsWith("healthy    OPEN", result.OutputLines[3], StringComparison.Ordinal);
        Assert.Contains("bad-state is MALFORMED: unknown circuitState 'BROKEN'; breakers read it as CLOSED", result.Output, StringComparison.Ordinal);
        Assert.Contains("bad-count is MALFORMED: failureCount 'many' is not a non-negative number", result.Output, StringComparison.Ordinal);
        using var document = JsonDocument.Parse(json.Output);
        var flagged = document.RootElement.EnumerateArray().First(c => c.GetProperty("id").GetString() == "bad-state");
        Assert.Equal("closed", flagged.GetProperty("state").GetString());
        Assert.Equal("unknown circuitState 'BROKEN'", flagged.GetProperty("malformed").GetString());
    }

    [Theory]
    [MemberData(nameof(StoreUnderTest.Kinds), MemberType = typeof(StoreUnderTest))]
    public async Task List_NoCircuits_SaysSoAndExits0(string kind)
    {
        await using var store = await StoreUnderTest.CreateAsync(kind);

        var result = await CliRun.RunAsync(store.Args("list"));
        var json = await CliRun.RunAsync(store.Args("list", "--json"));

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("no circuits in " + store.LocationStart, result.Output.Trim());
        Assert.Equal("[]", json.Output.Trim());
    }

    [Fact]
    public async Task List_ProbeLeaseHeld_ShowsShortOwnerAndExpiry()
    {
        await using var store = await StoreUnderTest.CreateAsync(StoreUnderTest.DynamoDb);
        var clock = CliRun.FixedClock();
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        await store.WriteNodeItemAsync("probing", "HALF-OPEN", 0, now - 1_000, now - 1_000);
        await store.SetAttributesAsync(
            "probing",
            (CircuitSnapshotSchema.ProbeLeaseOwnerAttribute, "0123456789abcdef0123456789abcdef", false),
            (CircuitSnapshotSchema.ProbeLeaseExpiresAttribute, (now + 20_000).ToString(System.Globalization.CultureInfo.InvariantCulture), true),
            (CircuitSnapshotSchema.ProbeLeaseEpisodeAttribute, (now - 1_000).ToString(System.Globalization.CultureInfo.InvariantCulture), true));

        var result = await CliRun.RunAsync(clock, store.Args("list"));

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("probing  HALF-OPEN         0  -             01234567.. until 09:27:13 (in 20 s)  09:26:52 (1 s ago)  -", result.OutputLines[1]);
    }

    [Fact]
    public async Task List_RedisPrefixWithGlobCharacters_ListsThatPrefixOnly()
    {
        var unique = Guid.NewGuid().ToString("N")[..8];
        await using var literal = RedisStoreUnderTest.Create($"cli-{unique}-[a]*:");
        await using var lookalike = RedisStoreUnderTest.Create($"cli-{unique}-a-other:");
        var clock = CliRun.FixedClock();
        await literal.OpenByFailingCallsAsync("mine", clock);
        await lookalike.OpenByFailingCallsAsync("not-mine", clock);

        var result = await CliRun.RunAsync(clock, literal.Args("list", "--json"));

        Assert.True(result.ExitCode == 0, result.ToString());
        using var json = JsonDocument.Parse(result.Output);
        Assert.Equal(["mine"], json.RootElement.EnumerateArray().Select(c => c.GetProperty("id").GetString()));
    }

    [Fact]
    public async Task List_RedisKeyOfAnotherType_IsFlaggedNotFatal()
    {
        await using var store = RedisStoreUnderTest.Create();
        var clock = CliRun.FixedClock();
        await store.OpenByFailingCallsAsync("orders", clock);
        await RedisStoreUnderTest.Database.StringSetAsync(store.Prefix + "a-string", "hello");

        var result = await CliRun.RunAsync(clock, store.Args("list"));

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains($"a-string is MALFORMED: the key '{store.Prefix}a-string' holds a string, not a hash", result.Output, StringComparison.Ordinal);
        Assert.Contains(result.OutputLines, line => line.StartsWith("orders    OPEN", StringComparison.Ordinal));
    }
}
