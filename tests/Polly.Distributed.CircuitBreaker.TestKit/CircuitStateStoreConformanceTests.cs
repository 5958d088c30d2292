using Polly.Distributed.CircuitBreaker;
using Xunit;

namespace Polly.Distributed.CircuitBreaker.TestKit;

/// <summary>
/// The behaviour every <see cref="ICircuitStateStore"/> must show. Derive once per store.
/// </summary>
public abstract class CircuitStateStoreConformanceTests
{
    protected const long Now = 1_750_000_000_000;

    protected abstract ICircuitStateStore Store { get; }

    protected static string NewCircuitId() => "conformance-" + Guid.NewGuid().ToString("N");

    protected static CircuitSnapshot SampleSnapshot => new()
    {
        State = SharedCircuitState.Open,
        FailureCount = 7,
        SuccessCount = 1,
        NextAttemptUnixMs = Now + 10_000,
        LastFailureUnixMs = Now - 5,
        ConsecutiveOpens = 3,
        StateTimestampUnixMs = Now,
        SchemaVersion = 1,
    };

    [Fact]
    public async Task ReadAsync_MissingItem_ReturnsInitialStateThatDoesNotExist()
    {
        var entry = await Store.ReadAsync(NewCircuitId(), CancellationToken.None);

        Assert.False(entry.Exists);
        Assert.Equal(CircuitSnapshot.Initial, entry.Snapshot);
        Assert.Null(entry.MalformedReason);
    }

    [Fact]
    public async Task WriteAsync_ThenRead_ReturnsEveryAttribute()
    {
        var id = NewCircuitId();
        var written = SampleSnapshot with { State = SharedCircuitState.HalfOpen, ProbeLeaseOwner = "owner-1", ProbeLeaseExpiresUnixMs = Now + 3_000 };

        await Store.WriteAsync(id, written, CancellationToken.None);
        var entry = await Store.ReadAsync(id, CancellationToken.None);

        Assert.True(entry.Exists);
        Assert.Equal(written, entry.Snapshot);
    }

    [Fact]
    public async Task WriteAsync_Twice_LastWriteWins()
    {
        var id = NewCircuitId();
        await Store.WriteAsync(id, SampleSnapshot, CancellationToken.None);
        var second = SampleSnapshot with { State = SharedCircuitState.Closed, FailureCount = 0, ProbeLeaseOwner = null };

        await Store.WriteAsync(id, second, CancellationToken.None);

        Assert.Equal(second, (await Store.ReadAsync(id, CancellationToken.None)).Snapshot);
    }

    [Fact]
    public async Task WriteAsync_ClearsLease_ReadShowsNoLease()
    {
        var id = NewCircuitId();
        await Store.WriteAsync(id, SampleSnapshot with { ProbeLeaseOwner = "owner", ProbeLeaseExpiresUnixMs = Now }, CancellationToken.None);

        await Store.WriteAsync(id, SampleSnapshot, CancellationToken.None);

        var snapshot = (await Store.ReadAsync(id, CancellationToken.None)).Snapshot;
        Assert.Null(snapshot.ProbeLeaseOwner);
        Assert.Equal(0, snapshot.ProbeLeaseExpiresUnixMs);
    }

    [Fact]
    public async Task TryReplaceAsync_MissingItemUnchanged_CreatesIt()
    {
        var id = NewCircuitId();
        var expected = await Store.ReadAsync(id, CancellationToken.None);

        var result = await Store.TryReplaceAsync(id, expected, SampleSnapshot, CancellationToken.None);

        Assert.True(result.Succeeded);
        Assert.Equal(SampleSnapshot, (await Store.ReadAsync(id, CancellationToken.None)).Snapshot);
    }

    [Fact]
    public async Task TryReplaceAsync_ItemCreatedSinceRead_FailsAndKeepsIt()
    {
        var id = NewCircuitId();
        var expected = await Store.ReadAsync(id, CancellationToken.None);
        await Store.WriteAsync(id, SampleSnapshot, CancellationToken.None);

        var result = await Store.TryReplaceAsync(id, expected, SampleSnapshot with { FailureCount = 99 }, CancellationToken.None);

        Assert.False(result.Succeeded);
        Assert.Equal(7, (await Store.ReadAsync(id, CancellationToken.None)).Snapshot.FailureCount);
    }

    [Fact]
    public async Task TryReplaceAsync_ItemUnchangedSinceRead_Succeeds()
    {
        var id = NewCircuitId();
        await Store.WriteAsync(id, SampleSnapshot, CancellationToken.None);
        var expected = await Store.ReadAsync(id, CancellationToken.None);
        var replacement = SampleSnapshot with { FailureCount = 8 };

        var result = await Store.TryReplaceAsync(id, expected, replacement, CancellationToken.None);

        Assert.True(result.Succeeded);
        Assert.Equal(replacement, result.Current?.Snapshot);
        Assert.Equal(replacement, (await Store.ReadAsync(id, CancellationToken.None)).Snapshot);
    }

    [Fact]
    public async Task TryReplaceAsync_ItemWrittenSinceRead_FailsAndReturnsTheStoredItem()
    {
        var id = NewCircuitId();
        await Store.WriteAsync(id, SampleSnapshot, CancellationToken.None);
        var expected = await Store.ReadAsync(id, CancellationToken.None);
        var interloper = SampleSnapshot with { FailureCount = 100, StateTimestampUnixMs = Now + 1 };
        await Store.WriteAsync(id, interloper, CancellationToken.None);

        var result = await Store.TryReplaceAsync(id, expected, SampleSnapshot with { FailureCount = 8 }, CancellationToken.None);

        Assert.False(result.Succeeded);
        Assert.Equal(interloper, result.Current?.Snapshot);

        Assert.Equal(interloper, (await Store.ReadAsync(id, CancellationToken.None)).Snapshot);
    }

    [Fact]
    public async Task TryReplaceAsync_ChainedOnReturnedEntry_Succeeds()
    {
        var id = NewCircuitId();
        var first = await Store.TryReplaceAsync(id, await Store.ReadAsync(id, CancellationToken.None), SampleSnapshot, CancellationToken.None);

        var second = await Store.TryReplaceAsync(id, first.Current!, SampleSnapshot with { FailureCount = 8 }, CancellationToken.None);

        Assert.True(second.Succeeded);
        Assert.Equal(8, (await Store.ReadAsync(id, CancellationToken.None)).Snapshot.FailureCount);
    }

    [Fact]
    public async Task TryReplaceAsync_ConcurrentIncrements_LoseNoUpdate()
    {
        var id = NewCircuitId();
        const int Writers = 20;

        await Task.WhenAll(Enumerable.Range(0, Writers).Select(_ => Task.Run(async () =>
        {
            var entry = await Store.ReadAsync(id, CancellationToken.None);
            while (true)
            {
                var result = await Store.TryReplaceAsync(id, entry, entry.Snapshot with { FailureCount = entry.Snapshot.FailureCount + 1 }, CancellationToken.None);
                if (result.Succeeded)
                {
                    return;
                }

                entry = result.Current ?? await Store.ReadAsync(id, CancellationToken.None);
            }
        })));

        Assert.Equal(Writers, (await Store.ReadAsync(id, CancellationToken.None)).Snapshot.FailureCount);
    }

    [Fact]
    public async Task TryClaimProbeAsync_HalfOpenWithoutLease_ClaimsOnce()
    {
        var id = NewCircuitId();
        await Store.WriteAsync(id, SampleSnapshot with { State = SharedCircuitState.HalfOpen }, CancellationToken.None);

        var first = await Store.TryClaimProbeAsync(id, "first", Now + 1_000, Now, CancellationToken.None);
        var second = await Store.TryClaimProbeAsync(id, "second", Now + 1_000, Now + 1, CancellationToken.None);

        Assert.True(first.Succeeded);
        Assert.False(second.Succeeded);
        var stored = (await Store.ReadAsync(id, CancellationToken.None)).Snapshot;
        Assert.Equal("first", stored.ProbeLeaseOwner);
        Assert.Equal(Now + 1_000, stored.ProbeLeaseExpiresUnixMs);
        Assert.Equal(SharedCircuitState.HalfOpen, stored.State);
    }

    [Fact]
    public async Task TryClaimProbeAsync_LeaseExpired_ClaimsAgain()
    {
        var id = NewCircuitId();
        await Store.WriteAsync(id, SampleSnapshot with { State = SharedCircuitState.HalfOpen, ProbeLeaseOwner = "crashed", ProbeLeaseExpiresUnixMs = Now }, CancellationToken.None);

        var result = await Store.TryClaimProbeAsync(id, "next", Now + 1_000, Now + 1, CancellationToken.None);

        Assert.True(result.Succeeded);
        Assert.Equal("next", (await Store.ReadAsync(id, CancellationToken.None)).Snapshot.ProbeLeaseOwner);
    }

    [Theory]
    [InlineData(SharedCircuitState.Closed)]
    [InlineData(SharedCircuitState.Open)]
    public async Task TryClaimProbeAsync_NotHalfOpen_Fails(SharedCircuitState state)
    {
        var id = NewCircuitId();
        await Store.WriteAsync(id, SampleSnapshot with { State = state }, CancellationToken.None);

        var result = await Store.TryClaimProbeAsync(id, "owner", Now + 1_000, Now, CancellationToken.None);

        Assert.False(result.Succeeded);
        Assert.Null((await Store.ReadAsync(id, CancellationToken.None)).Snapshot.ProbeLeaseOwner);
    }

    [Fact]
    public async Task TryClaimProbeAsync_MissingItem_Fails()
    {
        var result = await Store.TryClaimProbeAsync(NewCircuitId(), "owner", Now + 1_000, Now, CancellationToken.None);

        Assert.False(result.Succeeded);
    }

    [Fact]
    public async Task TryClaimProbeAsync_ConcurrentClaims_ExactlyOneWins()
    {
        var id = NewCircuitId();
        await Store.WriteAsync(id, SampleSnapshot with { State = SharedCircuitState.HalfOpen }, CancellationToken.None);

        var results = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => Task.Run(async () =>
            await Store.TryClaimProbeAsync(id, $"owner-{i}", Now + 1_000, Now, CancellationToken.None))));

        Assert.Single(results, r => r.Succeeded);
    }
}
