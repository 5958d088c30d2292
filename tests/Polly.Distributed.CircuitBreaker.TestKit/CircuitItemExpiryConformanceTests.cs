using Polly.Distributed.CircuitBreaker;
using Xunit;

namespace Polly.Distributed.CircuitBreaker.TestKit;

/// <summary>
/// The expiry a store with an item expiry sets on every write: <see cref="ItemExpiry"/> after the latest of the write, the
/// break and the probe lease, and none on an isolated circuit. Derive once per store that keeps an expiry.
/// </summary>
public abstract class CircuitItemExpiryConformanceTests
{
    protected static readonly TimeSpan ItemExpiry = TimeSpan.FromHours(2);

    private static readonly long ItemExpiryMs = (long)ItemExpiry.TotalMilliseconds;

    /// <summary>Gets the time of the writes: the real time, since a Redis key whose expiry has passed is deleted at once.</summary>
    protected static long Now { get; } = TimeProvider.System.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>Gets the unit in which the store keeps an expiry (a second in DynamoDB): the rule's time is rounded up to it.</summary>
    protected abstract long ExpiryResolutionMs { get; }

    /// <summary>Creates the store with the given item expiry, or with none.</summary>
    protected abstract ICircuitStateStore CreateStore(TimeSpan? itemExpiry);

    /// <summary>Reads the expiry of a circuit's item, epoch milliseconds, or <see langword="null"/> when it has none.</summary>
    protected abstract Task<long?> ReadExpiryUnixMsAsync(string circuitId);

    protected static string NewCircuitId() => "expiry-" + Guid.NewGuid().ToString("N");

    private ICircuitStateStore? _store;

    private ICircuitStateStore Store => _store ??= CreateStore(ItemExpiry);

    [Fact]
    public async Task WriteAsync_Closed_ExpiresAfterTheWrite()
    {
        var id = NewCircuitId();

        await Store.WriteAsync(id, Closed(Now), CancellationToken.None);

        Assert.Equal(ExpiryFor(Now), await ReadExpiryUnixMsAsync(id));
    }

    [Fact]
    public async Task WriteAsync_Open_ExpiresAfterTheBreak()
    {
        var id = NewCircuitId();
        var open = Closed(Now) with { State = StoredCircuitState.Open, NextAttemptUnixMs = Now + 600_000 };

        await Store.WriteAsync(id, open, CancellationToken.None);

        Assert.Equal(ExpiryFor(Now + 600_000), await ReadExpiryUnixMsAsync(id));
    }

    [Fact]
    public async Task WriteAsync_HalfOpenWithLease_ExpiresAfterTheLease()
    {
        var id = NewCircuitId();
        var probing = Closed(Now) with
        {
            State = StoredCircuitState.HalfOpen,
            NextAttemptUnixMs = Now - 1_000,
            ProbeLeaseOwner = "owner",
            ProbeLeaseExpiresUnixMs = Now + 30_000,
            ProbeLeaseEpisode = Now - 1_000,
        };

        await Store.WriteAsync(id, probing, CancellationToken.None);

        Assert.Equal(ExpiryFor(Now + 30_000), await ReadExpiryUnixMsAsync(id));
    }

    [Fact]
    public async Task WriteAsync_Isolated_RemovesTheExpiry()
    {
        var id = NewCircuitId();
        await Store.WriteAsync(id, Closed(Now), CancellationToken.None);

        await Store.WriteAsync(id, Isolated(Now + 1), CancellationToken.None);

        Assert.Null(await ReadExpiryUnixMsAsync(id));
        Assert.True((await Store.ReadAsync(id, CancellationToken.None)).Snapshot.IsIsolated);
    }

    [Fact]
    public async Task WriteAsync_StoredStateIsNewer_KeepsTheStoredExpiry()
    {
        var id = NewCircuitId();
        await Store.WriteAsync(id, Closed(Now + 10), CancellationToken.None);

        Assert.False(await Store.WriteAsync(id, Closed(Now) with { State = StoredCircuitState.Open, NextAttemptUnixMs = Now + 600_000 }, CancellationToken.None));

        Assert.Equal(ExpiryFor(Now + 10), await ReadExpiryUnixMsAsync(id));
    }

    [Fact]
    public async Task TryReplaceAsync_Open_ExpiresAfterTheBreak()
    {
        var id = NewCircuitId();
        var read = await Store.ReadAsync(id, CancellationToken.None);

        var result = await Store.TryReplaceAsync(id, read, Closed(Now) with { State = StoredCircuitState.Open, NextAttemptUnixMs = Now + 900_000 }, CancellationToken.None);

        Assert.True(result.Succeeded);
        Assert.Equal(ExpiryFor(Now + 900_000), await ReadExpiryUnixMsAsync(id));
    }

    [Fact]
    public async Task TryReplaceAsync_IsolatedThenClosed_ExpiresOnlyOnceClosed()
    {
        var id = NewCircuitId();
        await Store.WriteAsync(id, Closed(Now), CancellationToken.None);
        var isolated = await Store.TryReplaceAsync(id, await Store.ReadAsync(id, CancellationToken.None), Isolated(Now + 1), CancellationToken.None);
        Assert.True(isolated.Succeeded);
        Assert.Null(await ReadExpiryUnixMsAsync(id));

        var closed = await Store.TryReplaceAsync(id, await Store.ReadAsync(id, CancellationToken.None), Closed(Now + 2), CancellationToken.None);

        Assert.True(closed.Succeeded);
        Assert.Equal(ExpiryFor(Now + 2), await ReadExpiryUnixMsAsync(id));
    }

    [Fact]
    public async Task TryClaimProbeAsync_HalfOpen_ExpiresAfterTheLease()
    {
        var id = NewCircuitId();
        await Store.WriteAsync(id, Closed(Now) with { State = StoredCircuitState.HalfOpen, NextAttemptUnixMs = Now - 1_000 }, CancellationToken.None);

        var result = await Store.TryClaimProbeAsync(id, "prober", Now + 45_000, Now + 5, CancellationToken.None);

        Assert.True(result.Succeeded);
        Assert.Equal(ExpiryFor(Now + 45_000), await ReadExpiryUnixMsAsync(id));
    }

    [Fact]
    public async Task TryIncrementFailureAsync_Counted_ExpiresAfterTheFailure()
    {
        var id = NewCircuitId();

        var result = await Store.TryIncrementFailureAsync(id, Increment(Now, openAt: 5), CancellationToken.None);

        Assert.Equal(CircuitIncrementOutcome.Counted, result.Outcome);
        Assert.Equal(ExpiryFor(Now), await ReadExpiryUnixMsAsync(id));
    }

    [Fact]
    public async Task TryIncrementFailureAsync_FirstOfANewWindow_ExpiresAfterTheFailure()
    {
        var id = NewCircuitId();
        await Store.TryIncrementFailureAsync(id, Increment(Now - 120_000, openAt: 5), CancellationToken.None);

        var result = await Store.TryIncrementFailureAsync(id, Increment(Now, openAt: 5), CancellationToken.None);

        Assert.Equal(CircuitIncrementOutcome.Counted, result.Outcome);
        Assert.Equal(1, result.Current.Snapshot.FailureCount);
        Assert.Equal(ExpiryFor(Now), await ReadExpiryUnixMsAsync(id));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task TryIncrementFailureAsync_Opens_ExpiresAfterTheBreak(bool countSeen)
    {
        var id = NewCircuitId();
        await Store.TryIncrementFailureAsync(id, Increment(Now, openAt: 2), CancellationToken.None);

        var result = await Store.TryIncrementFailureAsync(id, Increment(Now + 1, openAt: 2) with { LastSeenFailureCount = countSeen ? 1 : null }, CancellationToken.None);

        Assert.Equal(CircuitIncrementOutcome.CountedAndOpened, result.Outcome);
        Assert.Equal(ExpiryFor(Now + 1 + 60_000), await ReadExpiryUnixMsAsync(id));
    }

    [Fact]
    public async Task TryIncrementFailureAsync_QuorumOpens_ExpiresAfterTheBreak()
    {
        var id = NewCircuitId();
        await Store.TryIncrementFailureAsync(id, Increment(Now, openAt: 2) with { MinimumEnvironments = 2, EnvironmentId = "env-a" }, CancellationToken.None);
        Assert.Equal(ExpiryFor(Now), await ReadExpiryUnixMsAsync(id));

        var result = await Store.TryIncrementFailureAsync(id, Increment(Now + 1, openAt: 2) with { MinimumEnvironments = 2, EnvironmentId = "env-b" }, CancellationToken.None);

        Assert.Equal(CircuitIncrementOutcome.CountedAndOpened, result.Outcome);
        Assert.Equal(ExpiryFor(Now + 1 + 60_000), await ReadExpiryUnixMsAsync(id));
    }

    [Fact]
    public async Task TryIncrementFailureAsync_NotCounted_KeepsTheStoredExpiry()
    {
        var id = NewCircuitId();
        await Store.WriteAsync(id, Closed(Now) with { State = StoredCircuitState.Open, NextAttemptUnixMs = Now + 600_000 }, CancellationToken.None);

        var result = await Store.TryIncrementFailureAsync(id, Increment(Now + 1, openAt: 1), CancellationToken.None);

        Assert.Equal(CircuitIncrementOutcome.NotCounted, result.Outcome);
        Assert.Equal(ExpiryFor(Now + 600_000), await ReadExpiryUnixMsAsync(id));
    }

    [Fact]
    public async Task ItemExpiryOff_EveryWrite_SetsNoExpiry()
    {
        var store = CreateStore(itemExpiry: null);
        var written = NewCircuitId();
        var counted = NewCircuitId();
        var claimed = NewCircuitId();

        await store.WriteAsync(written, Closed(Now) with { State = StoredCircuitState.Open, NextAttemptUnixMs = Now + 600_000 }, CancellationToken.None);
        await store.TryIncrementFailureAsync(counted, Increment(Now, openAt: 1), CancellationToken.None);
        await store.WriteAsync(claimed, Closed(Now) with { State = StoredCircuitState.HalfOpen }, CancellationToken.None);
        await store.TryClaimProbeAsync(claimed, "prober", Now + 45_000, Now + 1, CancellationToken.None);

        Assert.Null(await ReadExpiryUnixMsAsync(written));
        Assert.Null(await ReadExpiryUnixMsAsync(counted));
        Assert.Null(await ReadExpiryUnixMsAsync(claimed));
    }

    [Fact]
    public async Task ItemExpiryOff_Isolation_RemovesAnExpirySetByAnotherProcess()
    {
        var id = NewCircuitId();
        await Store.WriteAsync(id, Closed(Now), CancellationToken.None);
        var withoutExpiry = CreateStore(itemExpiry: null);

        var result = await withoutExpiry.TryReplaceAsync(id, await withoutExpiry.ReadAsync(id, CancellationToken.None), Isolated(Now + 1), CancellationToken.None);

        Assert.True(result.Succeeded);
        Assert.Null(await ReadExpiryUnixMsAsync(id));
    }

    protected static CircuitSnapshot Closed(long now) => new() { StateTimestampUnixMs = now, LastFailureUnixMs = now - 5, FailureCount = 1 };

    protected static CircuitSnapshot Isolated(long now) => Closed(now) with { State = StoredCircuitState.Open, NextAttemptUnixMs = CircuitSnapshot.IsolatedUntilUnixMs };

    /// <summary>The expiry the rule sets on an item holding nothing live after <paramref name="liveUntilUnixMs"/>, in the store's unit.</summary>
    protected long ExpiryFor(long liveUntilUnixMs)
    {
        var expires = liveUntilUnixMs + ItemExpiryMs;
        return (expires + ExpiryResolutionMs - 1) / ExpiryResolutionMs * ExpiryResolutionMs;
    }

    // A failure at now, in a 60-second window, opening for 60 seconds at the threshold.
    private static CircuitFailureIncrement Increment(long now, long openAt) =>
        new(Guid.NewGuid().ToString("N"), now, now - 60_000, openAt, now + 60_000);
}
