using System.Text.Json;
using Polly.CircuitBreaker;

namespace Polly.Distributed.CircuitBreaker.Cli.Tests.Commands;

public sealed class ChangeCommandTests
{
    [Theory]
    [MemberData(nameof(StoreUnderTest.Kinds), MemberType = typeof(StoreUnderTest))]
    public async Task Isolate_OpenCircuit_BreakersRejectWithIsolatedCircuitException(string kind)
    {
        await using var store = await StoreUnderTest.CreateAsync(kind);
        var clock = CliRun.FixedClock();
        await store.OpenByFailingCallsAsync("orders", clock);

        var result = await CliRun.RunAsync(clock, store.Args("isolate", "orders"));

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("isolated 'orders': OPEN -> ISOLATED", result.Output.Trim());
        clock.Advance(TimeSpan.FromHours(1));
        var breaker = store.Breaker("orders", clock);
        await Assert.ThrowsAsync<IsolatedCircuitException>(async () => await breaker.ExecuteAsync(_ => default, TestContext.Current.CancellationToken));
        var stored = await store.Store.ReadAsync("orders", TestContext.Current.CancellationToken);
        Assert.Equal(CircuitSnapshot.IsolatedUntilUnixMs, stored.Snapshot.NextAttemptUnixMs);
    }

    [Theory]
    [MemberData(nameof(StoreUnderTest.Kinds), MemberType = typeof(StoreUnderTest))]
    public async Task Isolate_ItemWithExpiry_RemovesTheExpiry(string kind)
    {
        await using var store = await StoreUnderTest.CreateAsync(kind);
        var clock = CliRun.FixedClock();
        await store.OpenExpiringAsync("orders", clock, TimeSpan.FromHours(2));

        var result = await CliRun.RunAsync(clock, store.Args("isolate", "orders"));

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Null(await store.ReadTimeToLiveAsync("orders", clock));
    }

    [Fact]
    public async Task Isolate_ExpiryAttributeNamed_RemovesThatAttribute()
    {
        await using var store = await StoreUnderTest.CreateAsync(StoreUnderTest.DynamoDb);
        var clock = CliRun.FixedClock();
        await store.OpenExpiringAsync("orders", clock, TimeSpan.FromHours(2), attribute: "ttl");

        var result = await CliRun.RunAsync(clock, store.Args("isolate", "orders", "--expiry-attribute", "ttl"));

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Null(await store.ReadTimeToLiveAsync("orders", clock, attribute: "ttl"));
    }

    [Theory]
    [MemberData(nameof(StoreUnderTest.Kinds), MemberType = typeof(StoreUnderTest))]
    public async Task Close_IsolatedCircuit_BreakersLetCallsThroughAgain(string kind)
    {
        await using var store = await StoreUnderTest.CreateAsync(kind);
        var clock = CliRun.FixedClock();
        await store.OpenByFailingCallsAsync("orders", clock);
        Assert.Equal(0, (await CliRun.RunAsync(clock, store.Args("isolate", "orders"))).ExitCode);

        var result = await CliRun.RunAsync(clock, store.Args("close", "orders"));

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("closed 'orders': ISOLATED -> CLOSED", result.Output.Trim());
        var breaker = store.Breaker("orders", clock);
        Assert.Equal(7, await breaker.ExecuteAsync(_ => new ValueTask<int>(7), TestContext.Current.CancellationToken));
        var stored = await store.Store.ReadAsync("orders", TestContext.Current.CancellationToken);
        Assert.Equal((StoredCircuitState.Closed, 0L), (stored.Snapshot.State, stored.Snapshot.FailureCount));
    }

    [Theory]
    [MemberData(nameof(StoreUnderTest.Kinds), MemberType = typeof(StoreUnderTest))]
    public async Task Isolate_IfStateMatches_Isolates(string kind)
    {
        await using var store = await StoreUnderTest.CreateAsync(kind);
        var clock = CliRun.FixedClock();
        await store.OpenByFailingCallsAsync("orders", clock);

        var result = await CliRun.RunAsync(clock, store.Args("isolate", "orders", "--if-state", "open"));

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.True((await store.Store.ReadAsync("orders", TestContext.Current.CancellationToken)).Snapshot.IsIsolated);
    }

    [Theory]
    [MemberData(nameof(StoreUnderTest.Kinds), MemberType = typeof(StoreUnderTest))]
    public async Task Close_IfStateDiffers_Exits4AndLeavesTheItemAsItWas(string kind)
    {
        await using var store = await StoreUnderTest.CreateAsync(kind);
        var clock = CliRun.FixedClock();
        await store.OpenByFailingCallsAsync("orders", clock);
        var before = await store.Store.ReadAsync("orders", TestContext.Current.CancellationToken);

        var result = await CliRun.RunAsync(clock, store.Args("close", "orders", "--if-state", "half-open"));

        Assert.Equal(CliExitCodes.GuardFailed, result.ExitCode);
        Assert.Equal("error: the circuit 'orders' is OPEN, not HALF-OPEN (--if-state half-open): nothing changed", result.Error.Trim());
        Assert.Equal(before.Snapshot, (await store.Store.ReadAsync("orders", TestContext.Current.CancellationToken)).Snapshot);
    }

    [Theory]
    [MemberData(nameof(StoreUnderTest.Kinds), MemberType = typeof(StoreUnderTest))]
    public async Task Isolate_UnknownId_Exits3AndWritesNothing(string kind)
    {
        await using var store = await StoreUnderTest.CreateAsync(kind);

        var result = await CliRun.RunAsync(store.Args("isolate", "typo"));

        Assert.Equal(CliExitCodes.NoSuchCircuit, result.ExitCode);
        Assert.StartsWith("error: no circuit 'typo'", result.Error, StringComparison.Ordinal);
        Assert.False((await store.Store.ReadAsync("typo", TestContext.Current.CancellationToken)).Exists);
    }

    [Theory]
    [MemberData(nameof(StoreUnderTest.Kinds), MemberType = typeof(StoreUnderTest))]
    public async Task Isolate_CreateUnknownId_IsolatesItBeforeAnyBreakerWrote(string kind)
    {
        await using var store = await StoreUnderTest.CreateAsync(kind);
        var clock = CliRun.FixedClock();

        var result = await CliRun.RunAsync(clock, store.Args("isolate", "not-yet-deployed", "--create"));

        Assert.True(result.ExitCode == 0, result.ToString());
        var breaker = store.Breaker("not-yet-deployed", clock);
        await Assert.ThrowsAsync<IsolatedCircuitException>(async () => await breaker.ExecuteAsync(_ => default, TestContext.Current.CancellationToken));
    }

    [Theory]
    [MemberData(nameof(StoreUnderTest.Kinds), MemberType = typeof(StoreUnderTest))]
    public async Task Isolate_MalformedItem_ReplacesItWithAnIsolation(string kind)
    {
        await using var store = await StoreUnderTest.CreateAsync(kind);
        await store.SetAttributesAsync("hostile", (CircuitSnapshotSchema.CircuitStateAttribute, "BROKEN", false), ("deployedBy", "someone", false));

        var result = await CliRun.RunAsync(store.Args("isolate", "hostile"));

        Assert.True(result.ExitCode == 0, result.ToString());
        var show = await CliRun.RunAsync(store.Args("show", "hostile"));
        Assert.Contains("state              ISOLATED", show.OutputLines);
        Assert.Contains(show.OutputLines, line => line.StartsWith("deployedBy", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Close_Json_WritesBeforeAndAfterStates()
    {
        await using var store = await StoreUnderTest.CreateAsync(StoreUnderTest.DynamoDb);
        var clock = CliRun.FixedClock();
        await store.OpenByFailingCallsAsync("orders", clock);

        var result = await CliRun.RunAsync(clock, store.Args("close", "orders", "--json"));

        Assert.True(result.ExitCode == 0, result.ToString());
        using var json = JsonDocument.Parse(result.Output);
        Assert.Equal("orders", json.RootElement.GetProperty("id").GetString());
        Assert.Equal("close", json.RootElement.GetProperty("action").GetString());
        Assert.Equal("open", json.RootElement.GetProperty("before").GetProperty("state").GetString());
        Assert.Equal(3, json.RootElement.GetProperty("before").GetProperty("failureCount").GetInt64());
        Assert.Equal("closed", json.RootElement.GetProperty("after").GetProperty("state").GetString());
        Assert.Equal(0, json.RootElement.GetProperty("after").GetProperty("failureCount").GetInt64());
    }

    [Theory]
    [InlineData("isolate")]
    [InlineData("close")]
    public async Task Change_IdBreakersCannotUse_Exits2BeforeTouchingTheStore(string command)
    {
        var result = await CliRun.RunAsync(command, "orders fn", "--table", "circuits", "--endpoint", "http://127.0.0.1:1");

        Assert.Equal(CliExitCodes.UsageError, result.ExitCode);
        Assert.Contains("the circuit id 'orders fn' has the character ' '", result.Error, StringComparison.Ordinal);
    }
}
