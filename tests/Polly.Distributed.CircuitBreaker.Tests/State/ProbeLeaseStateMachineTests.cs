using Polly.Distributed.CircuitBreaker.State;
using static Polly.Distributed.CircuitBreaker.Tests.State.StateMachineFixtures;

namespace Polly.Distributed.CircuitBreaker.Tests.State;

public class ProbeLeaseStateMachineTests
{
    [Fact]
    public void Check_OpenAtNextAttemptAtomic_TransitionTakesProbeLease()
    {
        var open = new CircuitSnapshot { State = StoredCircuitState.Open, NextAttemptUnixMs = Now - 1 };

        var decision = ProbeLeaseStateMachine.Check(open, Now, Settings, "me");

        Assert.Equal("me", decision.Next!.ProbeLeaseOwner);
        Assert.Equal(Now + Settings.ProbeLeaseMs, decision.Next.ProbeLeaseExpiresUnixMs);
    }

    [Fact]
    public void Check_HalfOpenAtomicWithValidLease_RejectsUntilLeaseExpires()
    {
        var leased = HalfOpen with { ProbeLeaseOwner = "other", ProbeLeaseExpiresUnixMs = Now + 700, StateTimestampUnixMs = Now - 29_300 };

        var decision = ProbeLeaseStateMachine.Check(leased, Now, Settings, "me");

        Assert.Equal(CheckVerdict.Reject, decision.Verdict);
        Assert.Equal(700, decision.RetryAfterMs);
    }

    [Theory]
    [InlineData(null, 0)]
    [InlineData("crashed", Now)]
    public void Check_HalfOpenAtomicWithoutValidLease_ClaimsProbe(string? owner, long expires)
    {
        var decision = ProbeLeaseStateMachine.Check(HalfOpen with { ProbeLeaseOwner = owner, ProbeLeaseExpiresUnixMs = expires }, Now, Settings, "me");

        Assert.Equal(CheckVerdict.ClaimProbe, decision.Verdict);
    }

    [Fact]
    public void RecordFailure_HalfOpenAtomicByNonHolder_ChangesNothing()
    {
        var leased = HalfOpen with { ProbeLeaseOwner = "prober", ProbeLeaseExpiresUnixMs = Now + 1 };

        Assert.Null(ProbeLeaseStateMachine.RecordFailure(leased, Now, Settings, "latecomer"));
        Assert.Null(ProbeLeaseStateMachine.RecordFailure(leased, Now, Settings, null));
    }

    [Fact]
    public void RecordFailure_HalfOpenAtomicByHolder_ReopensAndDropsLease()
    {
        var next = ProbeLeaseStateMachine.RecordFailure(HalfOpen with { ProbeLeaseOwner = "prober", ProbeLeaseExpiresUnixMs = Now + 1 }, Now, Settings, "prober");

        Assert.Equal(StoredCircuitState.Open, next!.State);
        Assert.Null(next.ProbeLeaseOwner);
        Assert.Equal(0, next.ProbeLeaseExpiresUnixMs);
    }

    [Fact]
    public void RecordSuccess_HalfOpenAtomicByHolder_CountsAndReleasesLease()
    {
        var next = ProbeLeaseStateMachine.RecordSuccess(HalfOpen with { ProbeLeaseOwner = "prober", ProbeLeaseExpiresUnixMs = Now + 1 }, Now, Settings, "prober");

        Assert.Equal(1, next!.SuccessCount);
        Assert.Null(next.ProbeLeaseOwner);
    }

    [Fact]
    public void RecordSuccess_HalfOpenAtomicByNonHolder_ChangesNothing()
    {
        Assert.Null(ProbeLeaseStateMachine.RecordSuccess(HalfOpen with { ProbeLeaseOwner = "prober" }, Now, Settings, "other"));
    }

    [Fact]
    public void ReleaseProbe_Holder_DropsLeaseOnly()
    {
        var leased = HalfOpen with { SuccessCount = 1, ProbeLeaseOwner = "prober", ProbeLeaseExpiresUnixMs = Now + 1 };

        var next = ProbeLeaseStateMachine.ReleaseProbe(leased, Now, "prober");

        Assert.Equal(leased with { ProbeLeaseOwner = null, ProbeLeaseExpiresUnixMs = 0, StateTimestampUnixMs = Now }, next);
        Assert.Null(ProbeLeaseStateMachine.ReleaseProbe(leased, Now, "other"));
    }

    [Fact]
    public void WithoutStore_NothingKnown_Allows()
    {
        Assert.Equal(CheckVerdict.Allow, ProbeLeaseStateMachine.WithoutStore(null, Now, Settings, null, answerWaitMs: 1_500).Verdict);
        Assert.Equal(CheckVerdict.Allow, ProbeLeaseStateMachine.WithoutStore(Closed, Now, Settings, null, answerWaitMs: 1_500).Verdict);
    }

    [Fact]
    public void WithoutStore_HalfOpenWithOthersLease_RejectsUntilLeaseEndsThenProbesLocally()
    {
        var leased = HalfOpen with { ProbeLeaseOwner = "other", ProbeLeaseExpiresUnixMs = Now + 500, StateTimestampUnixMs = Now - 29_500 };

        var decision = ProbeLeaseStateMachine.WithoutStore(leased, Now, Settings, "me", answerWaitMs: 1_500);

        Assert.Equal(CheckVerdict.Reject, decision.Verdict);
        Assert.Equal(500, decision.RetryAfterMs);
        Assert.Equal(CheckVerdict.ProbeLocally, ProbeLeaseStateMachine.WithoutStore(leased, Now + 500, Settings, "me", answerWaitMs: 1_500).Verdict);
    }

    [Theory]
    [InlineData(0, false)]
    [InlineData(1_499, false)]
    [InlineData(1_500, true)]
    public void WithoutStore_HalfOpenWithNoLeaseSeen_RejectsForTheAnswerWaitNotALease(long sinceHalfOpenMs, bool probesLocally)
    {
        var expected = probesLocally ? CheckVerdict.ProbeLocally : CheckVerdict.Reject;
        var halfOpen = HalfOpen with { StateTimestampUnixMs = Now - sinceHalfOpenMs };

        Assert.Equal(expected, ProbeLeaseStateMachine.WithoutStore(halfOpen, Now, Settings, "me", answerWaitMs: 1_500).Verdict);
    }

    [Fact]
    public void Check_LeaseFromEarlierEpisode_ClaimsInsteadOfRejecting()
    {
        var stale = HalfOpen with { NextAttemptUnixMs = Now - 5, ProbeLeaseOwner = "old-probe", ProbeLeaseExpiresUnixMs = Now + 20_000, ProbeLeaseEpisode = Now - 60_000, StateTimestampUnixMs = Now - 10_000 };

        Assert.Equal(CheckVerdict.ClaimProbe, ProbeLeaseStateMachine.Check(stale, Now, Settings, "me").Verdict);
    }

    [Fact]
    public void Check_LeaseAheadByClockSkewOnly_IsHonouredNotTakenOver()
    {
        // The claimant's clock is 10 minutes ahead: its lease looks far in the future here, but is 30 s long on its own clock.
        var skewed = HalfOpen with { ProbeLeaseOwner = "fast-clock", StateTimestampUnixMs = Now + 600_000, ProbeLeaseExpiresUnixMs = Now + 630_000 };

        Assert.Equal(CheckVerdict.Reject, ProbeLeaseStateMachine.Check(skewed, Now, Settings, "me").Verdict);
    }

    [Theory]
    [InlineData(StoredCircuitState.Closed)]
    [InlineData(StoredCircuitState.Open)]
    public void RecordSuccess_ProbeFindsCircuitMovedOnWithItsLease_RemovesOnlyTheLease(StoredCircuitState movedTo)
    {
        var movedOn = new CircuitSnapshot { State = movedTo, NextAttemptUnixMs = Now + 9_000, ProbeLeaseOwner = "me", ProbeLeaseExpiresUnixMs = Now + 1_000, ProbeLeaseEpisode = Now - 50_000 };

        var next = ProbeLeaseStateMachine.RecordSuccess(movedOn, Now, Settings, "me");

        Assert.Equal(movedOn with { ProbeLeaseOwner = null, ProbeLeaseExpiresUnixMs = 0, ProbeLeaseEpisode = 0 }, next);
    }

    [Theory]
    [InlineData(29_999, true)]
    [InlineData(30_000, false)]
    public void Check_LapsedLeaseFirstSeenLessThanOneLeaseAgo_RejectsUntilOneLeaseAfterFirstSight(long seenAgoMs, bool rejects)
    {
        // By this process's clock the lease lapsed long ago (the claimant's clock runs behind): it still gets one full lease from first sight.
        var lapsed = HalfOpen with { ProbeLeaseOwner = "slow-clock", StateTimestampUnixMs = Now - 90_000, ProbeLeaseExpiresUnixMs = Now - 60_000 };

        var expected = rejects ? CheckVerdict.Reject : CheckVerdict.ClaimProbe;
        Assert.Equal(expected, ProbeLeaseStateMachine.Check(lapsed, Now, Settings, "me", seenAgoMs).Verdict);
    }

    [Fact]
    public void Check_ClosedAtThresholdWhoseOpeningIsNotWritten_RejectsForTheBreakFromTheLastFailure()
    {
        var counted = Closed with { FailureCount = 5, LastFailureUnixMs = Now - 4_000 };

        var decision = ProbeLeaseStateMachine.Check(counted, Now, Settings, "me");

        Assert.Equal(CheckVerdict.Reject, decision.Verdict);
        Assert.Equal(6_000, decision.RetryAfterMs);
    }

    [Fact]
    public void Check_ClosedAtThresholdPastItsBreak_HalfOpensWithALeaseForTheBreaksEpisode()
    {
        var counted = Closed with { FailureCount = 5, LastFailureUnixMs = Now - 10_000 };

        var decision = ProbeLeaseStateMachine.Check(counted, Now, Settings, "me");

        Assert.Equal(CheckVerdict.Transition, decision.Verdict);
        Assert.Equal(StoredCircuitState.HalfOpen, decision.Next!.State);
        Assert.Equal("me", decision.Next.ProbeLeaseOwner);
        Assert.Equal(Now, decision.Next.ProbeLeaseEpisode);
    }

    [Fact]
    public void WithoutStore_LastKnownClosedAtThreshold_RejectsUntilItsBreakAndAnAnswerWait()
    {
        var counted = Closed with { FailureCount = 5, LastFailureUnixMs = Now - 4_000 };

        var decision = ProbeLeaseStateMachine.WithoutStore(counted, Now, Settings, probeOwner: null, answerWaitMs: 2_500);

        Assert.Equal(CheckVerdict.Reject, decision.Verdict);
        Assert.Equal(8_500, decision.RetryAfterMs);
    }
}
