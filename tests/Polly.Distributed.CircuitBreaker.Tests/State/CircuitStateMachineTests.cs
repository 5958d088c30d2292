using Polly.Distributed.CircuitBreaker.State;

namespace Polly.Distributed.CircuitBreaker.Tests.State;

public class CircuitStateMachineTests
{
    private const long Now = 1_750_000_000_000;

    private static readonly CircuitBreakerSettings LastWriterWins = new(
        FailureThreshold: 5,
        SuccessThreshold: 2,
        BreakDurationMs: 10_000,
        MaxBreakDurationMs: 60_000,
        FailureWindowMs: 60_000,
        ProbeLeaseMs: 30_000,
        Atomic: false);

    private static readonly CircuitBreakerSettings Atomic = LastWriterWins with { Atomic = true };

    private static readonly CircuitSnapshot Closed = CircuitSnapshot.Initial;

    private static readonly CircuitSnapshot HalfOpen = new() { State = SharedCircuitState.HalfOpen, FailureCount = 5, ConsecutiveOpens = 1 };

    [Fact]
    public void Check_Closed_Allows()
    {
        Assert.Equal(CheckVerdict.Allow, CircuitStateMachine.Check(Closed with { FailureCount = 4 }, Now, LastWriterWins, null).Verdict);
    }

    [Fact]
    public void Check_HalfOpenLastWriterWins_AllowsEveryCall()
    {
        Assert.Equal(CheckVerdict.Allow, CircuitStateMachine.Check(HalfOpen, Now, LastWriterWins, null).Verdict);
    }

    [Fact]
    public void Check_OpenBeforeNextAttempt_RejectsWithTimeLeft()
    {
        var open = new CircuitSnapshot { State = SharedCircuitState.Open, NextAttemptUnixMs = Now + 4_000 };

        var decision = CircuitStateMachine.Check(open, Now, LastWriterWins, null);

        Assert.Equal(CheckVerdict.Reject, decision.Verdict);
        Assert.Equal(4_000, decision.RetryAfterMs);
        Assert.False(decision.Isolated);
    }

    [Fact]
    public void Check_OpenAtNextAttempt_TransitionsToHalfOpenWithZeroSuccesses()
    {
        var open = new CircuitSnapshot { State = SharedCircuitState.Open, NextAttemptUnixMs = Now, SuccessCount = 1, FailureCount = 5 };

        var decision = CircuitStateMachine.Check(open, Now, LastWriterWins, null);

        Assert.Equal(CheckVerdict.Transition, decision.Verdict);
        Assert.Equal(SharedCircuitState.HalfOpen, decision.Next!.State);
        Assert.Equal(0, decision.Next.SuccessCount);
        Assert.Equal(Now, decision.Next.StateTimestampUnixMs);
        Assert.Null(decision.Next.ProbeLeaseOwner);
    }

    [Fact]
    public void Check_OpenAtNextAttemptAtomic_TransitionTakesProbeLease()
    {
        var open = new CircuitSnapshot { State = SharedCircuitState.Open, NextAttemptUnixMs = Now - 1 };

        var decision = CircuitStateMachine.Check(open, Now, Atomic, "me");

        Assert.Equal("me", decision.Next!.ProbeLeaseOwner);
        Assert.Equal(Now + Atomic.ProbeLeaseMs, decision.Next.ProbeLeaseExpiresUnixMs);
    }

    [Fact]
    public void Check_Isolated_RejectsAsIsolated()
    {
        var decision = CircuitStateMachine.Check(CircuitStateMachine.Isolate(Closed, Now), Now + 1_000_000_000, LastWriterWins, null);

        Assert.Equal(CheckVerdict.Reject, decision.Verdict);
        Assert.True(decision.Isolated);
    }

    [Fact]
    public void Check_HalfOpenAtomicWithValidLease_RejectsUntilLeaseExpires()
    {
        var leased = HalfOpen with { ProbeLeaseOwner = "other", ProbeLeaseExpiresUnixMs = Now + 700, StateTimestampUnixMs = Now - 29_300 };

        var decision = CircuitStateMachine.Check(leased, Now, Atomic, "me");

        Assert.Equal(CheckVerdict.Reject, decision.Verdict);
        Assert.Equal(700, decision.RetryAfterMs);
    }

    [Theory]
    [InlineData(null, 0)]
    [InlineData("crashed", Now)]
    public void Check_HalfOpenAtomicWithoutValidLease_ClaimsProbe(string? owner, long expires)
    {
        var decision = CircuitStateMachine.Check(HalfOpen with { ProbeLeaseOwner = owner, ProbeLeaseExpiresUnixMs = expires }, Now, Atomic, "me");

        Assert.Equal(CheckVerdict.ClaimProbe, decision.Verdict);
    }

    [Fact]
    public void RecordFailure_ClosedBelowThreshold_CountsAndStampsTime()
    {
        var next = CircuitStateMachine.RecordFailure(Closed with { FailureCount = 3, LastFailureUnixMs = Now - 1_000 }, Now, LastWriterWins, null);

        Assert.Equal(SharedCircuitState.Closed, next!.State);
        Assert.Equal(4, next.FailureCount);
        Assert.Equal(Now, next.LastFailureUnixMs);
        Assert.Equal(Now, next.StateTimestampUnixMs);
    }

    [Fact]
    public void RecordFailure_ClosedAfterFailureWindow_CountsFromZero()
    {
        var stale = Closed with { FailureCount = 4, LastFailureUnixMs = Now - 60_001 };

        var next = CircuitStateMachine.RecordFailure(stale, Now, LastWriterWins, null);

        Assert.Equal(SharedCircuitState.Closed, next!.State);
        Assert.Equal(1, next.FailureCount);
    }

    [Fact]
    public void RecordFailure_ClosedExactlyAtWindowEdge_KeepsCounting()
    {
        var next = CircuitStateMachine.RecordFailure(Closed with { FailureCount = 4, LastFailureUnixMs = Now - 60_000 }, Now, LastWriterWins, null);

        Assert.Equal(5, next!.FailureCount);
        Assert.Equal(SharedCircuitState.Open, next.State);
    }

    [Fact]
    public void EffectiveFailureCount_NeverFailed_IsStoredCount()
    {
        Assert.Equal(2, CircuitStateMachine.EffectiveFailureCount(Closed with { FailureCount = 2 }, Now, LastWriterWins));
    }

    [Fact]
    public void RecordFailure_ClosedReachingThreshold_OpensForBreakDurationWithZeroConsecutiveOpens()
    {
        var next = CircuitStateMachine.RecordFailure(Closed with { FailureCount = 4, ConsecutiveOpens = 3 }, Now, LastWriterWins, null);

        Assert.Equal(SharedCircuitState.Open, next!.State);
        Assert.Equal(5, next.FailureCount);
        Assert.Equal(0, next.ConsecutiveOpens);
        Assert.Equal(Now + 10_000, next.NextAttemptUnixMs);
    }

    [Fact]
    public void RecordFailure_HalfOpen_ReopensWithDoubledBreak()
    {
        var next = CircuitStateMachine.RecordFailure(HalfOpen, Now, LastWriterWins, null);

        Assert.Equal(SharedCircuitState.Open, next!.State);
        Assert.Equal(2, next.ConsecutiveOpens);
        Assert.Equal(6, next.FailureCount);
        Assert.Equal(Now, next.LastFailureUnixMs);
        Assert.Equal(Now + 40_000, next.NextAttemptUnixMs);
    }

    [Theory]
    [InlineData(0, 10_000)]
    [InlineData(1, 20_000)]
    [InlineData(2, 40_000)]
    [InlineData(3, 60_000)]
    [InlineData(64, 60_000)]
    [InlineData(long.MaxValue, 60_000)]
    public void BreakDurationMs_ConsecutiveOpens_DoublesUpToMax(long consecutiveOpens, long expected)
    {
        Assert.Equal(expected, CircuitStateMachine.BreakDurationMs(consecutiveOpens, LastWriterWins));
    }

    [Fact]
    public void RecordFailure_HalfOpenAtomicByNonHolder_ChangesNothing()
    {
        var leased = HalfOpen with { ProbeLeaseOwner = "prober", ProbeLeaseExpiresUnixMs = Now + 1 };

        Assert.Null(CircuitStateMachine.RecordFailure(leased, Now, Atomic, "latecomer"));
        Assert.Null(CircuitStateMachine.RecordFailure(leased, Now, Atomic, null));
    }

    [Fact]
    public void RecordFailure_HalfOpenAtomicByHolder_ReopensAndDropsLease()
    {
        var next = CircuitStateMachine.RecordFailure(HalfOpen with { ProbeLeaseOwner = "prober", ProbeLeaseExpiresUnixMs = Now + 1 }, Now, Atomic, "prober");

        Assert.Equal(SharedCircuitState.Open, next!.State);
        Assert.Null(next.ProbeLeaseOwner);
        Assert.Equal(0, next.ProbeLeaseExpiresUnixMs);
    }

    [Fact]
    public void RecordFailureAndRecordSuccess_Open_ChangeNothing()
    {
        var open = new CircuitSnapshot { State = SharedCircuitState.Open, NextAttemptUnixMs = Now + 5_000, ConsecutiveOpens = 2 };

        Assert.Null(CircuitStateMachine.RecordFailure(open, Now, LastWriterWins, null));
        Assert.Null(CircuitStateMachine.RecordSuccess(open, Now, LastWriterWins, null));
    }

    [Fact]
    public void RecordSuccess_Closed_ChangesNothing()
    {
        Assert.Null(CircuitStateMachine.RecordSuccess(Closed with { FailureCount = 3 }, Now, LastWriterWins, null));
    }

    [Fact]
    public void RecordSuccess_HalfOpenBelowSuccessThreshold_CountsSuccess()
    {
        var next = CircuitStateMachine.RecordSuccess(HalfOpen, Now, LastWriterWins, null);

        Assert.Equal(SharedCircuitState.HalfOpen, next!.State);
        Assert.Equal(1, next.SuccessCount);
    }

    [Fact]
    public void RecordSuccess_HalfOpenReachingSuccessThreshold_ClosesAndResetsCounts()
    {
        var next = CircuitStateMachine.RecordSuccess(HalfOpen with { SuccessCount = 1 }, Now, LastWriterWins, null);

        Assert.Equal(SharedCircuitState.Closed, next!.State);
        Assert.Equal(0, next.FailureCount);
        Assert.Equal(0, next.SuccessCount);
        Assert.Equal(0, next.ConsecutiveOpens);
    }

    [Fact]
    public void RecordSuccess_HalfOpenAtomicByHolder_CountsAndReleasesLease()
    {
        var next = CircuitStateMachine.RecordSuccess(HalfOpen with { ProbeLeaseOwner = "prober", ProbeLeaseExpiresUnixMs = Now + 1 }, Now, Atomic, "prober");

        Assert.Equal(1, next!.SuccessCount);
        Assert.Null(next.ProbeLeaseOwner);
    }

    [Fact]
    public void RecordSuccess_HalfOpenAtomicByNonHolder_ChangesNothing()
    {
        Assert.Null(CircuitStateMachine.RecordSuccess(HalfOpen with { ProbeLeaseOwner = "prober" }, Now, Atomic, "other"));
    }

    [Fact]
    public void ReleaseProbe_Holder_DropsLeaseOnly()
    {
        var leased = HalfOpen with { SuccessCount = 1, ProbeLeaseOwner = "prober", ProbeLeaseExpiresUnixMs = Now + 1 };

        var next = CircuitStateMachine.ReleaseProbe(leased, Now, "prober");

        Assert.Equal(leased with { ProbeLeaseOwner = null, ProbeLeaseExpiresUnixMs = 0, StateTimestampUnixMs = Now }, next);
        Assert.Null(CircuitStateMachine.ReleaseProbe(leased, Now, "other"));
    }

    [Fact]
    public void Close_Isolated_ClosesWithZeroCounts()
    {
        var isolated = CircuitStateMachine.Isolate(Closed with { FailureCount = 3 }, Now);

        var closed = CircuitStateMachine.Close(isolated, Now + 5);

        Assert.True(isolated.IsIsolated);
        Assert.Equal(SharedCircuitState.Closed, closed.State);
        Assert.Equal(0, closed.FailureCount);
        Assert.False(closed.IsIsolated);
        Assert.Equal(Now + 5, closed.NextAttemptUnixMs);
    }

    [Theory]
    [InlineData(3, 1_000, 4, false)]
    [InlineData(4, 1_000, 5, true)]
    [InlineData(4, 60_001, 1, false)]
    public void FailureIncrement_AppliedToClosed_MatchesRecordFailure(long failures, long sinceLastFailureMs, long expectedCount, bool opens)
    {
        var closed = Closed with { FailureCount = failures, LastFailureUnixMs = Now - sinceLastFailureMs };

        var (outcome, next) = CircuitStateMachine.FailureIncrement(Now, LastWriterWins, "write-1").ApplyTo(closed);

        Assert.Equal(CircuitStateMachine.RecordFailure(closed, Now, LastWriterWins, null), next);
        Assert.Equal(expectedCount, next!.FailureCount);
        Assert.Equal(opens ? CircuitIncrementOutcome.CountedAndOpened : CircuitIncrementOutcome.Counted, outcome);
    }

    [Fact]
    public void FailureIncrement_AppliedToOpen_CountsNothing()
    {
        var open = new CircuitSnapshot { State = SharedCircuitState.Open, FailureCount = 5, NextAttemptUnixMs = Now + 1 };

        var (outcome, next) = CircuitStateMachine.FailureIncrement(Now, Atomic, "write-1").ApplyTo(open);

        Assert.Equal(CircuitIncrementOutcome.NotCounted, outcome);
        Assert.Null(next);
    }

    [Theory]
    [InlineData(SharedCircuitState.Closed, 4, 10, 4L)]
    [InlineData(SharedCircuitState.Closed, 0, -1, 0L)]
    [InlineData(SharedCircuitState.Closed, 4, 60_001, null)]
    [InlineData(SharedCircuitState.Open, 5, 10, null)]
    [InlineData(SharedCircuitState.HalfOpen, 0, 10, null)]
    public void FailureIncrement_AdmittedOn_HintsTheCountStillInTheWindow(SharedCircuitState state, long failures, long sinceLastFailureMs, long? hint)
    {
        var admittedOn = new CircuitSnapshot { State = state, FailureCount = failures, LastFailureUnixMs = sinceLastFailureMs < 0 ? 0 : Now - sinceLastFailureMs };

        var increment = CircuitStateMachine.FailureIncrement(Now, Atomic, "write-1", admittedOn);

        Assert.Equal(hint, increment.ExpectedFailureCount);
        Assert.Null(CircuitStateMachine.FailureIncrement(Now, Atomic, "write-1").ExpectedFailureCount);
    }

    [Fact]
    public void WithoutStore_NothingKnown_Allows()
    {
        Assert.Equal(CheckVerdict.Allow, CircuitStateMachine.WithoutStore(null, Now, Atomic, null).Verdict);
        Assert.Equal(CheckVerdict.Allow, CircuitStateMachine.WithoutStore(Closed, Now, Atomic, null).Verdict);
    }

    [Theory]
    [InlineData(-1, true)]
    [InlineData(29_999, true)]
    [InlineData(30_000, false)]
    public void WithoutStore_OpenSeen_RejectsUntilNextAttemptPlusOneLease(long sinceNextAttemptMs, bool rejects)
    {
        var open = new CircuitSnapshot { State = SharedCircuitState.Open, NextAttemptUnixMs = Now - sinceNextAttemptMs };

        var expected = rejects ? CheckVerdict.Reject : CheckVerdict.Allow;
        Assert.Equal(expected, CircuitStateMachine.WithoutStore(open, Now, LastWriterWins, null).Verdict);
    }

    [Fact]
    public void WithoutStore_HalfOpenWithOthersLease_RejectsUntilLeaseEnds()
    {
        var leased = HalfOpen with { ProbeLeaseOwner = "other", ProbeLeaseExpiresUnixMs = Now + 500 };

        var decision = CircuitStateMachine.WithoutStore(leased, Now, Atomic, "me");

        Assert.Equal(CheckVerdict.Reject, decision.Verdict);
        Assert.Equal(500, decision.RetryAfterMs);
        Assert.Equal(CheckVerdict.Allow, CircuitStateMachine.WithoutStore(leased, Now + 500, Atomic, "me").Verdict);
    }

    [Fact]
    public void WithoutStore_HalfOpenLastWriterWins_Allows()
    {
        Assert.Equal(CheckVerdict.Allow, CircuitStateMachine.WithoutStore(HalfOpen with { StateTimestampUnixMs = Now }, Now, LastWriterWins, null).Verdict);
    }

    [Fact]
    public void Check_LeaseFromEarlierEpisode_ClaimsInsteadOfRejecting()
    {
        var stale = HalfOpen with { NextAttemptUnixMs = Now - 5, ProbeLeaseOwner = "old-probe", ProbeLeaseExpiresUnixMs = Now + 20_000, ProbeLeaseEpisode = Now - 60_000, StateTimestampUnixMs = Now - 10_000 };

        Assert.Equal(CheckVerdict.ClaimProbe, CircuitStateMachine.Check(stale, Now, Atomic, "me").Verdict);
    }

    [Fact]
    public void Check_LeaseAheadByClockSkewOnly_IsHonouredNotTakenOver()
    {
        // The claimant's clock is 10 minutes ahead: its lease looks far in the future here, but is 30 s long on its own clock.
        var skewed = HalfOpen with { ProbeLeaseOwner = "fast-clock", StateTimestampUnixMs = Now + 600_000, ProbeLeaseExpiresUnixMs = Now + 630_000 };

        Assert.Equal(CheckVerdict.Reject, CircuitStateMachine.Check(skewed, Now, Atomic, "me").Verdict);
    }

    [Theory]
    [InlineData(SharedCircuitState.Closed)]
    [InlineData(SharedCircuitState.Open)]
    public void RecordSuccess_ProbeFindsCircuitMovedOnWithItsLease_RemovesOnlyTheLease(SharedCircuitState movedTo)
    {
        var movedOn = new CircuitSnapshot { State = movedTo, NextAttemptUnixMs = Now + 9_000, ProbeLeaseOwner = "me", ProbeLeaseExpiresUnixMs = Now + 1_000, ProbeLeaseEpisode = Now - 50_000 };

        var next = CircuitStateMachine.RecordSuccess(movedOn, Now, Atomic, "me");

        Assert.Equal(movedOn with { ProbeLeaseOwner = null, ProbeLeaseExpiresUnixMs = 0, ProbeLeaseEpisode = 0 }, next);
    }

    [Fact]
    public void RecordFailure_CountersAtMaximum_Saturate()
    {
        var closed = Closed with { FailureCount = long.MaxValue, LastFailureUnixMs = Now };
        var halfOpen = HalfOpen with { FailureCount = long.MaxValue, ConsecutiveOpens = long.MaxValue };

        Assert.Equal(long.MaxValue, CircuitStateMachine.RecordFailure(closed, Now, LastWriterWins, null)!.FailureCount);
        var reopened = CircuitStateMachine.RecordFailure(halfOpen, Now, LastWriterWins, null)!;
        Assert.Equal(long.MaxValue, reopened.FailureCount);
        Assert.Equal(long.MaxValue, reopened.ConsecutiveOpens);
        Assert.Equal(Now + 60_000, reopened.NextAttemptUnixMs);
    }
}
