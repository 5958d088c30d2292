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
        State = StoredCircuitState.Open,
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
        var written = SampleSnapshot with { State = StoredCircuitState.HalfOpen, ProbeLeaseOwner = "owner-1", ProbeLeaseExpiresUnixMs = Now + 3_000 };

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
        var second = SampleSnapshot with { State = StoredCircuitState.Closed, FailureCount = 0, ProbeLeaseOwner = null };

        await Store.WriteAsync(id, second, CancellationToken.None);

        Assert.Equal(second, (await Store.ReadAsync(id, CancellationToken.None)).Snapshot);
    }

    [Fact]
    public async Task WriteAsync_MissingItem_ReturnsTrueAndCreatesIt()
    {
        var id = NewCircuitId();

        var stored = await Store.WriteAsync(id, SampleSnapshot, CancellationToken.None);

        Assert.True(stored);
        var entry = await Store.ReadAsync(id, CancellationToken.None);
        Assert.True(entry.Exists);
        Assert.Equal(SampleSnapshot, entry.Snapshot);
    }

    [Fact]
    public async Task WriteAsync_StoredStateIsOlder_ReturnsTrueAndReplacesIt()
    {
        var id = NewCircuitId();
        await Store.WriteAsync(id, SampleSnapshot with { State = StoredCircuitState.HalfOpen, ProbeLeaseOwner = "owner", ProbeLeaseExpiresUnixMs = Now + 3_000 }, CancellationToken.None);
        var newer = SampleSnapshot with { State = StoredCircuitState.Closed, FailureCount = 0, StateTimestampUnixMs = Now + 10 };

        var stored = await Store.WriteAsync(id, newer, CancellationToken.None);

        Assert.True(stored);
        Assert.Equal(newer, (await Store.ReadAsync(id, CancellationToken.None)).Snapshot);
    }

    [Fact]
    public async Task WriteAsync_StoredStateIsNewer_ReturnsFalseAndKeepsTheStoredItem()
    {
        var id = NewCircuitId();
        var newer = SampleSnapshot with
        {
            State = StoredCircuitState.HalfOpen,
            StateTimestampUnixMs = Now + 10,
            ProbeLeaseOwner = "owner",
            ProbeLeaseExpiresUnixMs = Now + 3_000,
        };
        Assert.True(await Store.WriteAsync(id, newer, CancellationToken.None));

        var stored = await Store.WriteAsync(id, SampleSnapshot with { State = StoredCircuitState.Closed, FailureCount = 4, StateTimestampUnixMs = Now }, CancellationToken.None);

        Assert.False(stored);
        Assert.Equal(newer, (await Store.ReadAsync(id, CancellationToken.None)).Snapshot);
    }

    // Every store writes over an equal stateTimestamp: two writes in the same millisecond are ordered by arrival, and a retry
    // of a write whose answer was lost finds its own timestamp and still reports the write as stored.
    [Fact]
    public async Task WriteAsync_StoredStateHasTheSameTimestamp_ReturnsTrueAndReplacesIt()
    {
        var id = NewCircuitId();
        await Store.WriteAsync(id, SampleSnapshot with { ProbeLeaseOwner = "owner", ProbeLeaseExpiresUnixMs = Now + 3_000 }, CancellationToken.None);
        var sameMillisecond = SampleSnapshot with { State = StoredCircuitState.Closed, FailureCount = 0, ConsecutiveOpens = 0 };

        var stored = await Store.WriteAsync(id, sameMillisecond, CancellationToken.None);

        Assert.True(stored);
        Assert.Equal(sameMillisecond, (await Store.ReadAsync(id, CancellationToken.None)).Snapshot);
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
        await Store.WriteAsync(id, SampleSnapshot with { State = StoredCircuitState.HalfOpen }, CancellationToken.None);

        var first = await Store.TryClaimProbeAsync(id, "first", Now + 1_000, Now, CancellationToken.None);
        var second = await Store.TryClaimProbeAsync(id, "second", Now + 1_000, Now + 1, CancellationToken.None);

        Assert.True(first.Succeeded);
        Assert.False(second.Succeeded);
        var stored = (await Store.ReadAsync(id, CancellationToken.None)).Snapshot;
        Assert.Equal("first", stored.ProbeLeaseOwner);
        Assert.Equal(Now + 1_000, stored.ProbeLeaseExpiresUnixMs);
        Assert.Equal(StoredCircuitState.HalfOpen, stored.State);
    }

    [Fact]
    public async Task TryClaimProbeAsync_LeaseExpired_ClaimsAgain()
    {
        var id = NewCircuitId();
        await Store.WriteAsync(id, SampleSnapshot with { State = StoredCircuitState.HalfOpen, ProbeLeaseOwner = "crashed", ProbeLeaseExpiresUnixMs = Now }, CancellationToken.None);

        var result = await Store.TryClaimProbeAsync(id, "next", Now + 1_000, Now + 1, CancellationToken.None);

        Assert.True(result.Succeeded);
        Assert.Equal("next", (await Store.ReadAsync(id, CancellationToken.None)).Snapshot.ProbeLeaseOwner);
    }

    [Theory]
    [InlineData(StoredCircuitState.Closed)]
    [InlineData(StoredCircuitState.Open)]
    public async Task TryClaimProbeAsync_NotHalfOpen_Fails(StoredCircuitState state)
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
        await Store.WriteAsync(id, SampleSnapshot with { State = StoredCircuitState.HalfOpen }, CancellationToken.None);

        var results = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => Task.Run(async () =>
            await Store.TryClaimProbeAsync(id, $"owner-{i}", Now + 1_000, Now, CancellationToken.None))));

        Assert.Single(results, r => r.Succeeded);
    }

    [Fact]
    public async Task TryIncrementFailureAsync_MissingItem_CountsOne()
    {
        var id = NewCircuitId();

        var result = await Store.TryIncrementFailureAsync(id, Increment(openAt: 5), CancellationToken.None);

        Assert.Equal(CircuitIncrementOutcome.Counted, result.Outcome);
        var stored = (await Store.ReadAsync(id, CancellationToken.None)).Snapshot;
        Assert.Equal(StoredCircuitState.Closed, stored.State);
        Assert.Equal(1, stored.FailureCount);
        Assert.Equal(Now, stored.LastFailureUnixMs);
        Assert.Equal(stored, result.Current.Snapshot);
    }

    [Fact]
    public async Task TryIncrementFailureAsync_LastFailureInWindow_AddsOne()
    {
        var id = NewCircuitId();
        await Store.WriteAsync(id, CircuitSnapshot.Initial with { FailureCount = 3, LastFailureUnixMs = Now - 1_000 }, CancellationToken.None);

        await Store.TryIncrementFailureAsync(id, Increment(openAt: 5), CancellationToken.None);

        Assert.Equal(4, (await Store.ReadAsync(id, CancellationToken.None)).Snapshot.FailureCount);
    }

    [Fact]
    public async Task TryIncrementFailureAsync_LastFailureBeforeWindow_StartsAgainAtOne()
    {
        var id = NewCircuitId();
        await Store.WriteAsync(id, CircuitSnapshot.Initial with { FailureCount = 4, LastFailureUnixMs = Now - 60_001 }, CancellationToken.None);

        var result = await Store.TryIncrementFailureAsync(id, Increment(openAt: 5), CancellationToken.None);

        Assert.Equal(CircuitIncrementOutcome.Counted, result.Outcome);
        Assert.Equal(1, (await Store.ReadAsync(id, CancellationToken.None)).Snapshot.FailureCount);
    }

    [Fact]
    public async Task TryIncrementFailureAsync_ReachesThreshold_OpensWithoutLease()
    {
        var id = NewCircuitId();
        await Store.WriteAsync(id, CircuitSnapshot.Initial with { FailureCount = 4, LastFailureUnixMs = Now - 10, ConsecutiveOpens = 2 }, CancellationToken.None);

        var result = await Store.TryIncrementFailureAsync(id, Increment(openAt: 5), CancellationToken.None);

        Assert.Equal(CircuitIncrementOutcome.CountedAndOpened, result.Outcome);
        var stored = (await Store.ReadAsync(id, CancellationToken.None)).Snapshot;
        Assert.Equal(StoredCircuitState.Open, stored.State);
        Assert.Equal(Now + 10_000, stored.NextAttemptUnixMs);
        Assert.Equal(0, stored.ConsecutiveOpens);
        Assert.Equal(5, stored.FailureCount);
        Assert.Null(stored.ProbeLeaseOwner);
    }

    // A count that waited behind a busy store's queue lands after the circuit recovered (closed by a probe): it belongs to
    // the episode that ended. Once the new episode has counted a failure, later counts add to it as usual.
    [Theory]
    [InlineData(1, 0, 5_000, CircuitIncrementOutcome.NotCounted, 0)]
    [InlineData(1, 0, 70_000, CircuitIncrementOutcome.NotCounted, 0)]
    [InlineData(0, 0, 5_000, CircuitIncrementOutcome.Counted, 1)]
    [InlineData(-1, 0, 5_000, CircuitIncrementOutcome.Counted, 1)]
    [InlineData(1, 2, 5_000, CircuitIncrementOutcome.Counted, 3)]
    public async Task TryIncrementFailureAsync_CircuitChangedStateAfterTheFailure_CountsOnlyOnceTheNewEpisodeHasCounted(
        long changedAfterFailureMs, long storedCount, long lastFailureAgoMs, CircuitIncrementOutcome expected, long expectedCount)
    {
        var id = NewCircuitId();
        await Store.WriteAsync(
            id,
            CircuitSnapshot.Initial with { FailureCount = storedCount, LastFailureUnixMs = Now - lastFailureAgoMs, StateTimestampUnixMs = Now + changedAfterFailureMs },
            CancellationToken.None);

        var result = await Store.TryIncrementFailureAsync(id, Increment(openAt: 5), CancellationToken.None);

        Assert.Equal(expected, result.Outcome);
        Assert.Equal(expectedCount, (await Store.ReadAsync(id, CancellationToken.None)).Snapshot.FailureCount);
    }

    [Theory]
    [InlineData(StoredCircuitState.Open)]
    [InlineData(StoredCircuitState.HalfOpen)]
    public async Task TryIncrementFailureAsync_NotClosed_WritesNothing(StoredCircuitState state)
    {
        var id = NewCircuitId();
        var before = SampleSnapshot with { State = state };
        await Store.WriteAsync(id, before, CancellationToken.None);

        var result = await Store.TryIncrementFailureAsync(id, Increment(openAt: 5), CancellationToken.None);

        Assert.Equal(CircuitIncrementOutcome.NotCounted, result.Outcome);
        Assert.Equal(before, result.Current.Snapshot);
        Assert.Equal(before, (await Store.ReadAsync(id, CancellationToken.None)).Snapshot);
    }

    [Fact]
    public async Task TryIncrementFailureAsync_CountAtMaximum_Saturates()
    {
        var id = NewCircuitId();
        await Store.WriteAsync(id, CircuitSnapshot.Initial with { FailureCount = long.MaxValue, LastFailureUnixMs = Now }, CancellationToken.None);

        await Store.TryIncrementFailureAsync(id, Increment(openAt: long.MaxValue), CancellationToken.None);

        var stored = await Store.ReadAsync(id, CancellationToken.None);
        Assert.Null(stored.MalformedReason);
        Assert.Equal(long.MaxValue, stored.Snapshot.FailureCount);
    }

    [Fact]
    public async Task TryIncrementFailureAsync_ConcurrentIncrements_CountsEveryOne()
    {
        var id = NewCircuitId();
        const int Writers = 40;
        const int EachWrites = 5;

        var outcomes = await Task.WhenAll(Enumerable.Range(0, Writers).Select(_ => Task.Run(async () =>
        {
            var counted = 0;
            for (var i = 0; i < EachWrites; i++)
            {
                var result = await Store.TryIncrementFailureAsync(id, Increment(openAt: 1_000_000), CancellationToken.None);
                counted += result.Outcome == CircuitIncrementOutcome.Counted ? 1 : 0;
            }

            return counted;
        })));

        Assert.Equal(Writers * EachWrites, outcomes.Sum());
        Assert.Equal(Writers * EachWrites, (await Store.ReadAsync(id, CancellationToken.None)).Snapshot.FailureCount);
    }

    [Fact]
    public async Task TryIncrementFailureAsync_ConcurrentAtThreshold_ExactlyOneOpens()
    {
        var id = NewCircuitId();

        var results = await Task.WhenAll(Enumerable.Range(0, 40).Select(_ => Task.Run(async () =>
            await Store.TryIncrementFailureAsync(id, Increment(openAt: 5), CancellationToken.None))));

        Assert.Single(results, r => r.Outcome == CircuitIncrementOutcome.CountedAndOpened);
        Assert.True(results.Count(r => r.Outcome != CircuitIncrementOutcome.NotCounted) >= 5);
        Assert.Equal(StoredCircuitState.Open, (await Store.ReadAsync(id, CancellationToken.None)).Snapshot.State);
    }

    [Theory]
    [InlineData(1, 10, 4, CircuitIncrementOutcome.Counted)]
    [InlineData(1, 60_001, 3, CircuitIncrementOutcome.Counted)]
    [InlineData(2, 10, 5, CircuitIncrementOutcome.CountedAndOpened)]
    public async Task TryIncrementFailureAsync_SeveralFailuresInOneRequest_CountsThemAll(long storedCount, long lastFailureAgo, long expectedCount, CircuitIncrementOutcome expected)
    {
        var id = NewCircuitId();
        await Store.WriteAsync(id, CircuitSnapshot.Initial with { FailureCount = storedCount, LastFailureUnixMs = Now - lastFailureAgo }, CancellationToken.None);

        var result = await Store.TryIncrementFailureAsync(id, Increment(openAt: 5) with { Count = 3 }, CancellationToken.None);

        Assert.Equal(expected, result.Outcome);
        var stored = (await Store.ReadAsync(id, CancellationToken.None)).Snapshot;
        Assert.Equal(expectedCount, stored.FailureCount);
        Assert.Equal(expected == CircuitIncrementOutcome.CountedAndOpened ? StoredCircuitState.Open : StoredCircuitState.Closed, stored.State);
    }

    [Fact]
    public async Task TryIncrementFailureAsync_Opens_RecordsWhoOpenedItAndWhy()
    {
        var id = NewCircuitId();
        await Store.WriteAsync(id, CircuitSnapshot.Initial with { FailureCount = 4, LastFailureUnixMs = Now - 10 }, CancellationToken.None);

        await Store.TryIncrementFailureAsync(id, Increment(openAt: 5) with { OpenedBy = "env-7f3a", OpenedReason = "HTTP 503" }, CancellationToken.None);

        var stored = (await Store.ReadAsync(id, CancellationToken.None)).Snapshot;
        Assert.Equal(StoredCircuitState.Open, stored.State);
        Assert.Equal("env-7f3a", stored.OpenedBy);
        Assert.Equal("HTTP 503", stored.OpenedReason);
    }

    [Fact]
    public async Task TryReplaceAsync_SnapshotNamesWhoOpenedIt_RoundTrips()
    {
        var id = NewCircuitId();
        var opened = SampleSnapshot with { State = StoredCircuitState.Open, OpenedBy = "env-1", OpenedReason = "TimeoutRejectedException" };

        var result = await Store.TryReplaceAsync(id, await Store.ReadAsync(id, CancellationToken.None), opened, CancellationToken.None);

        Assert.True(result.Succeeded);
        Assert.Equal(opened, (await Store.ReadAsync(id, CancellationToken.None)).Snapshot);
    }

    [Fact]
    public async Task TryIncrementFailureAsync_QuorumNotMet_CountsWithoutOpeningAndKeepsTheEnvironment()
    {
        var id = NewCircuitId();

        CircuitIncrementResult result = default;
        for (var i = 0; i < 5; i++)
        {
            result = await Store.TryIncrementFailureAsync(id, Increment(openAt: 2) with { MinimumEnvironments = 3, EnvironmentId = "env-a" }, CancellationToken.None);
        }

        Assert.Equal(CircuitIncrementOutcome.Counted, result.Outcome);
        var stored = (await Store.ReadAsync(id, CancellationToken.None)).Snapshot;
        Assert.Equal(StoredCircuitState.Closed, stored.State);
        Assert.Equal(5, stored.FailureCount);
        Assert.Equal(EnvironmentSet.Of(["env-a"]), stored.FailingEnvironments);
        Assert.Equal(stored.FailingEnvironments, result.Current.Snapshot.FailingEnvironments);
    }

    [Fact]
    public async Task TryIncrementFailureAsync_QuorumMetAtThreshold_OpensAndClearsTheEnvironments()
    {
        var id = NewCircuitId();
        await Store.TryIncrementFailureAsync(id, Increment(openAt: 3) with { MinimumEnvironments = 2, EnvironmentId = "env-a" }, CancellationToken.None);
        await Store.TryIncrementFailureAsync(id, Increment(openAt: 3) with { MinimumEnvironments = 2, EnvironmentId = "env-a" }, CancellationToken.None);

        var result = await Store.TryIncrementFailureAsync(id, Increment(openAt: 3) with { MinimumEnvironments = 2, EnvironmentId = "env-b" }, CancellationToken.None);

        Assert.Equal(CircuitIncrementOutcome.CountedAndOpened, result.Outcome);
        var stored = (await Store.ReadAsync(id, CancellationToken.None)).Snapshot;
        Assert.Equal(StoredCircuitState.Open, stored.State);
        Assert.Empty(stored.FailingEnvironments);
    }

    [Fact]
    public async Task TryIncrementFailureAsync_QuorumCountFromZero_StartsANewEpisode()
    {
        var id = NewCircuitId();
        await Store.TryIncrementFailureAsync(id, Increment(openAt: 10) with { MinimumEnvironments = 2, EnvironmentId = "env-old" }, CancellationToken.None);
        var read = await Store.ReadAsync(id, CancellationToken.None);

        // Closed by a writer that knows nothing of environments (the Node library): the count is 0, the old set is left.
        await Store.TryReplaceAsync(id, read, read.Snapshot with { FailureCount = 0, StateTimestampUnixMs = Now }, CancellationToken.None);
        await Store.TryIncrementFailureAsync(id, Increment(openAt: 10) with { MinimumEnvironments = 2, EnvironmentId = "env-new" }, CancellationToken.None);

        Assert.Equal(EnvironmentSet.Of(["env-new"]), (await Store.ReadAsync(id, CancellationToken.None)).Snapshot.FailingEnvironments);
    }

    [Fact]
    public async Task TryIncrementFailureAsync_QuorumAnonymousFailures_CountWithoutAnEnvironment()
    {
        var id = NewCircuitId();
        for (var i = 0; i < 3; i++)
        {
            await Store.TryIncrementFailureAsync(id, Increment(openAt: 3) with { MinimumEnvironments = 2 }, CancellationToken.None);
        }

        var stored = (await Store.ReadAsync(id, CancellationToken.None)).Snapshot;
        Assert.Equal(StoredCircuitState.Closed, stored.State);
        Assert.Equal(3, stored.FailureCount);
        Assert.Empty(stored.FailingEnvironments);
    }

    [Fact]
    public async Task TryIncrementFailureAsync_QuorumManyEnvironments_KeepsOnlyAsManyAsNeeded()
    {
        var id = NewCircuitId();
        foreach (var environment in new[] { "env-c", "env-a", "env-b", "env-d" })
        {
            await Store.TryIncrementFailureAsync(id, Increment(openAt: 100) with { MinimumEnvironments = 3, EnvironmentId = environment }, CancellationToken.None);
        }

        Assert.Equal(EnvironmentSet.Of(["env-a", "env-b", "env-c"]), (await Store.ReadAsync(id, CancellationToken.None)).Snapshot.FailingEnvironments);
    }

    [Fact]
    public async Task TryIncrementFailureAsync_QuorumConcurrentEnvironments_ExactlyOneOpensAndNoneLost()
    {
        var id = NewCircuitId();

        var results = await Task.WhenAll(Enumerable.Range(0, 12).Select(async i =>
            await Store.TryIncrementFailureAsync(id, Increment(openAt: 8) with { MinimumEnvironments = 3, EnvironmentId = $"env-{i % 4}" }, CancellationToken.None)));

        // Three failures per environment: once eight are counted the episode holds three environments, and exactly one
        // writer opens (a store whose count and opening are separate requests may count a few more first, as without a
        // quorum); every count that says so is in the stored count.
        Assert.Single(results, r => r.Outcome == CircuitIncrementOutcome.CountedAndOpened);
        var counted = results.Count(r => r.Outcome != CircuitIncrementOutcome.NotCounted);
        Assert.InRange(counted, 8, 12);
        Assert.All(results.Where(r => r.Outcome == CircuitIncrementOutcome.NotCounted), r => Assert.Equal(StoredCircuitState.Open, r.Current.Snapshot.State));
        var stored = (await Store.ReadAsync(id, CancellationToken.None)).Snapshot;
        Assert.Equal(StoredCircuitState.Open, stored.State);
        Assert.Equal(counted, stored.FailureCount);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(null)]
    public async Task TryIncrementFailureAsync_SeveralFailuresReachingThresholdWithOrWithoutHint_OpensOnce(int? hint)
    {
        var id = NewCircuitId();
        await Store.WriteAsync(id, CircuitSnapshot.Initial with { FailureCount = 2, LastFailureUnixMs = Now - 10 }, CancellationToken.None);

        var results = await Task.WhenAll(Enumerable.Range(0, 4).Select(async _ =>
            await Store.TryIncrementFailureAsync(id, Increment(openAt: 5) with { Count = 3, LastSeenFailureCount = hint }, CancellationToken.None)));

        Assert.Single(results, r => r.Outcome == CircuitIncrementOutcome.CountedAndOpened);
        Assert.Equal(StoredCircuitState.Open, (await Store.ReadAsync(id, CancellationToken.None)).Snapshot.State);
    }

    [Theory]
    [InlineData(4)]
    [InlineData(null)]
    public async Task TryIncrementFailureAsync_ReachesThresholdWithOrWithoutHint_OpensOnce(int? hint)
    {
        var id = NewCircuitId();
        await Store.WriteAsync(id, CircuitSnapshot.Initial with { FailureCount = 4, LastFailureUnixMs = Now - 10 }, CancellationToken.None);

        var result = await Store.TryIncrementFailureAsync(id, Increment(openAt: 5) with { LastSeenFailureCount = hint }, CancellationToken.None);

        Assert.Equal(CircuitIncrementOutcome.CountedAndOpened, result.Outcome);
        var stored = (await Store.ReadAsync(id, CancellationToken.None)).Snapshot;
        Assert.Equal(StoredCircuitState.Open, stored.State);
        Assert.Equal(5, stored.FailureCount);
        Assert.Equal(Now, stored.LastFailureUnixMs);
        Assert.Equal(Now + 10_000, stored.NextAttemptUnixMs);
    }

    // A hint that says the threshold is reached when it is not (another environment's write moved the count, or a new
    // window began) changes nothing: the failure is counted as usual.
    [Theory]
    [InlineData(1, 60_001, 1)]
    [InlineData(2, 10, 3)]
    public async Task TryIncrementFailureAsync_StaleHint_CountsAsUsual(long storedCount, long lastFailureAgo, long expectedCount)
    {
        var id = NewCircuitId();
        await Store.WriteAsync(id, CircuitSnapshot.Initial with { FailureCount = storedCount, LastFailureUnixMs = Now - lastFailureAgo }, CancellationToken.None);

        var result = await Store.TryIncrementFailureAsync(id, Increment(openAt: 5) with { LastSeenFailureCount = 4 }, CancellationToken.None);

        Assert.Equal(CircuitIncrementOutcome.Counted, result.Outcome);
        var stored = (await Store.ReadAsync(id, CancellationToken.None)).Snapshot;
        Assert.Equal(StoredCircuitState.Closed, stored.State);
        Assert.Equal(expectedCount, stored.FailureCount);
    }

    [Fact]
    public async Task TryIncrementFailureAsync_ConcurrentWithSameHint_ExactlyOneOpensAndAllCount()
    {
        var id = NewCircuitId();
        await Store.WriteAsync(id, CircuitSnapshot.Initial with { FailureCount = 4, LastFailureUnixMs = Now - 10 }, CancellationToken.None);

        var results = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => Task.Run(async () =>
            await Store.TryIncrementFailureAsync(id, Increment(openAt: 5) with { LastSeenFailureCount = 4 }, CancellationToken.None))));

        Assert.Single(results, r => r.Outcome == CircuitIncrementOutcome.CountedAndOpened);
        Assert.Equal(StoredCircuitState.Open, (await Store.ReadAsync(id, CancellationToken.None)).Snapshot.State);
    }

    protected static CircuitFailureIncrement Increment(long openAt) =>
        new(Guid.NewGuid().ToString("N"), Now, Now - 60_000, openAt, Now + 10_000);
}
