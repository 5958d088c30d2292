using Polly.CircuitBreaker;
using Polly.Distributed.CircuitBreaker.Cli.Commands;

namespace Polly.Distributed.CircuitBreaker.Cli.Tests.Commands;

public sealed class GuardedCircuitChangeTests
{
    [Theory]
    [MemberData(nameof(StoreUnderTest.Kinds), MemberType = typeof(StoreUnderTest))]
    public async Task ApplyAsync_CircuitOpensBetweenReadAndWrite_ThrowsGuardFailedAndWritesNothing(string kind)
    {
        await using var store = await StoreUnderTest.CreateAsync(kind);
        var clock = CliRun.FixedClock();
        await store.WriteNodeItemAsync("orders", "CLOSED", 2, 0, clock.GetUtcNow().ToUnixTimeMilliseconds() - 1_000);
        var breaker = store.Breaker("orders", clock);

        // The third failure of the window, counted by a breaker of the fleet while the operator's change is in flight.
        var interfering = new InterferingStore(store.Store, async _ => await Assert.ThrowsAsync<InvalidOperationException>(async () =>
            await breaker.ExecuteAsync(_ => throw new InvalidOperationException("down"), TestContext.Current.CancellationToken)));

        var failure = await Assert.ThrowsAsync<CommandFailedException>(() => GuardedCircuitChange.ApplyAsync(
            interfering, "orders", isolate: true, CircuitState.Closed, createMissing: false, clock, TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken));

        Assert.Equal(CliExitCodes.GuardFailed, failure.ExitCode);
        Assert.Equal("the circuit 'orders' moved from CLOSED to OPEN before the change was written (--if-state closed): nothing changed", failure.Message);
        var stored = await store.Store.ReadAsync("orders", TestContext.Current.CancellationToken);
        Assert.Equal(StoredCircuitState.Open, stored.Snapshot.State);
        Assert.False(stored.Snapshot.IsIsolated);
    }

    [Theory]
    [MemberData(nameof(StoreUnderTest.Kinds), MemberType = typeof(StoreUnderTest))]
    public async Task ApplyAsync_CountChangesButStateHolds_ReadsAgainAndLands(string kind)
    {
        await using var store = await StoreUnderTest.CreateAsync(kind);
        var clock = CliRun.FixedClock();
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        await store.WriteNodeItemAsync("orders", "CLOSED", 1, 0, now - 1_000);
        var interfering = new InterferingStore(store.Store, _ => store.WriteNodeItemAsync("orders", "CLOSED", 2, 0, now - 500));

        var (before, after) = await GuardedCircuitChange.ApplyAsync(
            interfering, "orders", isolate: true, CircuitState.Closed, createMissing: false, clock, TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);

        Assert.Equal(2, interfering.Replaces);
        Assert.Equal(2, before.FailureCount);
        Assert.True(after.IsIsolated);
        Assert.True((await store.Store.ReadAsync("orders", TestContext.Current.CancellationToken)).Snapshot.IsIsolated);
    }

    [Fact]
    public async Task ApplyAsync_ItemRemovedBetweenReadAndWrite_ThrowsNoSuchCircuit()
    {
        await using var store = RedisStoreUnderTest.Create();
        var clock = CliRun.FixedClock();
        await store.WriteNodeItemAsync("orders", "OPEN", 5, clock.GetUtcNow().ToUnixTimeMilliseconds() + 10_000, clock.GetUtcNow().ToUnixTimeMilliseconds());
        var interfering = new InterferingStore(store.Store, async _ => await RedisStoreUnderTest.Database.KeyDeleteAsync(store.Prefix + "orders"));

        var failure = await Assert.ThrowsAsync<CommandFailedException>(() => GuardedCircuitChange.ApplyAsync(
            interfering, "orders", isolate: false, expectedState: null, createMissing: false, clock, TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken));

        Assert.Equal(CliExitCodes.NoSuchCircuit, failure.ExitCode);
        Assert.Equal("the circuit 'orders' was removed before the change was written: nothing changed", failure.Message);
        Assert.False((await store.Store.ReadAsync("orders", TestContext.Current.CancellationToken)).Exists);
    }
}
