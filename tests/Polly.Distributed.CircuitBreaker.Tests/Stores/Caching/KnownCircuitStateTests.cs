using Microsoft.Extensions.Time.Testing;
using Polly.Distributed.CircuitBreaker.State;
using Polly.Distributed.CircuitBreaker.Stores.Caching;

namespace Polly.Distributed.CircuitBreaker.Tests.Stores.Caching;

public class KnownCircuitStateTests
{
    private static readonly StoredCircuit Closed = new(CircuitSnapshot.Initial with { StateTimestampUnixMs = 100 }, true, null);
    private static readonly StoredCircuit Open = new(new CircuitSnapshot { State = StoredCircuitState.Open, StateTimestampUnixMs = 200 }, true, null);

    [Fact]
    public async Task JoinOrStartRead_ConcurrentMisses_ReadOnce()
    {
        var known = new KnownCircuitState();
        var reads = 0;
        var release = new TaskCompletionSource<StoredCircuit>();

        var first = known.JoinOrStartRead(() => { reads++; return release.Task; });
        var second = known.JoinOrStartRead(() => { reads++; return release.Task; });
        release.SetResult(Closed);

        Assert.Same(Closed, await first);
        Assert.Same(Closed, await second);
        Assert.Equal(1, reads);
    }

    [Fact]
    public async Task JoinOrStartRead_AfterTheReadEnded_StartsANewOne()
    {
        var known = new KnownCircuitState();
        var reads = 0;

        await known.JoinOrStartRead(() => { reads++; return Task.FromResult(Closed); });
        var pending = new TaskCompletionSource<StoredCircuit>();
        var second = known.JoinOrStartRead(() => { reads++; return pending.Task; });
        pending.SetResult(Open);

        Assert.Same(Open, await second);
        Assert.Equal(2, reads);
    }

    [Fact]
    public async Task JoinOrStartRead_ReadFaultsAfterEveryCallerGaveUp_RaisesNoUnobservedTaskException()
    {
        var unobserved = 0;
        void OnUnobserved(object? sender, UnobservedTaskExceptionEventArgs e) => Interlocked.Increment(ref unobserved);
        TaskScheduler.UnobservedTaskException += OnUnobserved;
        try
        {
            await FaultReadNobodyWaitsForAsync();
            for (var i = 0; i < 3; i++)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
            }
        }
        finally
        {
            TaskScheduler.UnobservedTaskException -= OnUnobserved;
        }

        Assert.Equal(0, unobserved);
    }

    [Fact]
    public void Apply_LateAnswerOlderThanKnownState_IsIgnored()
    {
        var known = new KnownCircuitState();
        known.Apply(Open, startedMonoMs: 10, nowMonoMs: 20, fresh: true);

        // A count answered late: its request started before the open state arrived, and the store stamped it earlier.
        known.Apply(Closed, startedMonoMs: 5, nowMonoMs: 30, fresh: false);

        Assert.Same(Open, known.LastKnown);
    }

    [Fact]
    public void Apply_AnswerToARequestStartedAfterTheKnownStateArrived_ReplacesItWhateverItsStamp()
    {
        var known = new KnownCircuitState();
        known.Apply(Open, startedMonoMs: 10, nowMonoMs: 20, fresh: true);

        // Written meanwhile by a process whose clock runs behind: the store answered it later, so it is newer.
        known.Apply(Closed, startedMonoMs: 25, nowMonoMs: 30, fresh: true);

        Assert.Same(Closed, known.LastKnown);
    }

    [Fact]
    public void Apply_UnconfirmedWrite_NeverFresherThanLastRead()
    {
        var known = new KnownCircuitState();

        known.Apply(Open, startedMonoMs: 0, nowMonoMs: 0, fresh: false);
        Assert.False(known.TryGetFresh(0, 1_000, TimeProvider.System, out _));

        known.Apply(Closed, startedMonoMs: 0, nowMonoMs: 0, fresh: true);
        known.Apply(Open, startedMonoMs: 900, nowMonoMs: 900, fresh: false);
        Assert.True(known.TryGetFresh(999, 1_000, TimeProvider.System, out var cached));
        Assert.Same(Open, cached);
        Assert.False(known.TryGetFresh(1_000, 1_000, TimeProvider.System, out _));
    }

    [Fact]
    public void TryGetFresh_BreakEndedSinceTheRead_NotFreshUntilReadAgain()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(10_000));
        var known = new KnownCircuitState();
        var open = new StoredCircuit(new CircuitSnapshot { State = StoredCircuitState.Open, NextAttemptUnixMs = 10_500, StateTimestampUnixMs = 9_000 }, true, null);
        known.Apply(open, startedMonoMs: 0, nowMonoMs: 0, fresh: true);

        Assert.True(known.TryGetFresh(400, 5_000, clock, out _));
        clock.Advance(TimeSpan.FromMilliseconds(600));
        Assert.False(known.TryGetFresh(600, 5_000, clock, out _));

        // The same state read again after the break ended is what a transition is decided on: fresh within the TTL.
        known.Apply(open, startedMonoMs: 600, nowMonoMs: 610, fresh: true);
        Assert.True(known.TryGetFresh(700, 5_000, clock, out var cached));
        Assert.Same(open, cached);
    }

    [Fact]
    public void TryGetFresh_ProbeLeaseExpiredSinceTheRead_NotFresh()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(10_000));
        var known = new KnownCircuitState();
        var leased = new StoredCircuit(
            new CircuitSnapshot { State = StoredCircuitState.HalfOpen, ProbeLeaseOwner = "other", ProbeLeaseExpiresUnixMs = 10_200, StateTimestampUnixMs = 9_000 },
            true,
            null);
        known.Apply(leased, startedMonoMs: 0, nowMonoMs: 0, fresh: true);

        clock.Advance(TimeSpan.FromMilliseconds(300));

        Assert.False(known.TryGetFresh(300, 5_000, clock, out _));
    }

    [Fact]
    public void TryGetFresh_IsolatedCircuit_FreshForTheWholeTtl()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(10_000));
        var known = new KnownCircuitState();
        known.Apply(new StoredCircuit(CircuitStateMachine.Isolate(CircuitSnapshot.Initial, 9_000), true, null), startedMonoMs: 0, nowMonoMs: 0, fresh: true);

        clock.Advance(TimeSpan.FromMilliseconds(4_000));

        Assert.True(known.TryGetFresh(4_000, 5_000, clock, out _));
    }

    [Fact]
    public void ApplyLocally_KnownState_IsNeverFresh()
    {
        var known = new KnownCircuitState();
        known.Apply(Closed, startedMonoMs: 0, nowMonoMs: 0, fresh: true);

        known.ApplyLocally(snapshot => snapshot with { FailureCount = 3, StateTimestampUnixMs = 150 }, nowMonoMs: 1);

        Assert.Equal(3, known.LastKnown!.Snapshot.FailureCount);
        Assert.False(known.TryGetFresh(1, 1_000, TimeProvider.System, out _));
    }

    [Theory]
    [InlineData(4, 1)]
    [InlineData(9, 1)]
    [InlineData(3, 2)]
    [InlineData(0, 2)]
    public void ApplyLocally_AfterAnAnswerToARequestStartedAfterTheChangesOwnWas_AppliesOnlyOnAnEarlierAnswer(long answeredRequest, long expectedCount)
    {
        var known = new KnownCircuitState();
        var counted = new StoredCircuit(CircuitSnapshot.Initial with { FailureCount = 1, StateTimestampUnixMs = 150 }, true, null);
        known.Apply(counted, startedMonoMs: 600, nowMonoMs: 700, fresh: false, requestNumber: answeredRequest);

        // The change's own request was the fourth: requests 1 to 3 had started before it.
        known.ApplyLocally(snapshot => snapshot with { FailureCount = snapshot.FailureCount + 1 }, nowMonoMs: 800, unlessAnsweredAfterRequest: 3);

        Assert.Equal(expectedCount, known.LastKnown!.Snapshot.FailureCount);
    }

    [Fact]
    public void StartRequest_EachRequest_NumberedAfterTheLast()
    {
        var known = new KnownCircuitState();

        Assert.Equal((1L, 2L, 2L), (known.StartRequest(), known.StartRequest(), known.RequestsStarted));
    }

    [Fact]
    public void ApplyLocally_AfterAnotherLocalChange_AppliesWhateverItsTime()
    {
        var known = new KnownCircuitState();
        known.ApplyLocally(snapshot => snapshot with { FailureCount = 1 }, nowMonoMs: 700);

        known.ApplyLocally(snapshot => snapshot with { FailureCount = snapshot.FailureCount + 1 }, nowMonoMs: 800, unlessAnsweredAfterRequest: 0);

        Assert.Equal(2, known.LastKnown!.Snapshot.FailureCount);
    }

    [Fact]
    public void LeaseSeenAgoMs_SameLeaseSeenAgain_CountsFromFirstSight()
    {
        var known = new KnownCircuitState();
        var leased = new StoredCircuit(new CircuitSnapshot { State = StoredCircuitState.HalfOpen, ProbeLeaseOwner = "p", ProbeLeaseExpiresUnixMs = 9, ProbeLeaseEpisode = 1 }, true, null);

        known.Apply(leased, startedMonoMs: 0, nowMonoMs: 100, fresh: true);
        known.Apply(leased, startedMonoMs: 200, nowMonoMs: 300, fresh: true);

        Assert.Equal(400, known.LeaseSeenAgoMs(leased.Snapshot, nowMonoMs: 500));
        Assert.Null(known.LeaseSeenAgoMs(leased.Snapshot with { ProbeLeaseOwner = "q" }, nowMonoMs: 500));
    }

    private static async Task FaultReadNobodyWaitsForAsync()
    {
        var known = new KnownCircuitState();
        var failing = new TaskCompletionSource<StoredCircuit>();
        var waiters = Enumerable.Range(0, 5)
            .Select(_ => known.JoinOrStartRead(() => failing.Task).WaitAsync(TimeSpan.FromMilliseconds(1)))
            .ToArray();
        foreach (var waiter in waiters)
        {
            await Assert.ThrowsAsync<TimeoutException>(() => waiter);
        }

        failing.SetException(new InvalidOperationException("store is down"));
        await Task.Delay(50);
    }
}
