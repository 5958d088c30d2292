using Polly.Distributed.CircuitBreaker.State;
using static Polly.Distributed.CircuitBreaker.Tests.State.StateMachineFixtures;

namespace Polly.Distributed.CircuitBreaker.Tests.State;

public class CircuitStateMachineTests
{
    [Fact]
    public void Check_Closed_Allows()
    {
        Assert.Equal(CheckVerdict.Allow, CircuitStateMachine.Check(Closed with { FailureCount = 4 }, Now).Verdict);
    }

    [Fact]
    public void Check_HalfOpenLastWriterWins_AllowsEveryCall()
    {
        Assert.Equal(CheckVerdict.Allow, CircuitStateMachine.Check(HalfOpen, Now).Verdict);
    }

    [Fact]
    public void Check_OpenBeforeNextAttempt_RejectsWithTimeLeft()
    {
        var open = new CircuitSnapshot { State = StoredCircuitState.Open, NextAttemptUnixMs = Now + 4_000 };

        var decision = CircuitStateMachine.Check(open, Now);

        Assert.Equal(CheckVerdict.Reject, decision.Verdict);
        Assert.Equal(4_000, decision.RetryAfterMs);
        Assert.False(decision.Isolated);
    }

    [Fact]
    public void Check_OpenAtNextAttempt_TransitionsToHalfOpenWithZeroSuccesses()
    {
        var open = new CircuitSnapshot { State = StoredCircuitState.Open, NextAttemptUnixMs = Now, SuccessCount = 1, FailureCount = 5 };

        var decision = CircuitStateMachine.Check(open, Now);

        Assert.Equal(CheckVerdict.Transition, decision.Verdict);
        Assert.Equal(StoredCircuitState.HalfOpen, decision.Next!.State);
        Assert.Equal(0, decision.Next.SuccessCount);
        Assert.Equal(Now, decision.Next.StateTimestampUnixMs);
        Assert.Null(decision.Next.ProbeLeaseOwner);
    }

    [Fact]
    public void Check_Isolated_RejectsAsIsolated()
    {
        var decision = CircuitStateMachine.Check(CircuitStateMachine.Isolate(Closed, Now), Now + 1_000_000_000);

        Assert.Equal(CheckVerdict.Reject, decision.Verdict);
        Assert.True(decision.Isolated);
    }

    [Fact]
    public void RecordFailure_ClosedBelowThreshold_CountsAndStampsTime()
    {
        var next = CircuitStateMachine.RecordFailure(Closed with { FailureCount = 3, LastFailureUnixMs = Now - 1_000 }, Now, Settings);

        Assert.Equal(StoredCircuitState.Closed, next!.State);
        Assert.Equal(4, next.FailureCount);
        Assert.Equal(Now, next.LastFailureUnixMs);
        Assert.Equal(Now, next.StateTimestampUnixMs);
    }

    [Fact]
    public void RecordFailure_ClosedAfterFailureWindow_CountsFromZero()
    {
        var stale = Closed with { FailureCount = 4, LastFailureUnixMs = Now - 60_001 };

        var next = CircuitStateMachine.RecordFailure(stale, Now, Settings);

        Assert.Equal(StoredCircuitState.Closed, next!.State);
        Assert.Equal(1, next.FailureCount);
    }

    [Fact]
    public void RecordFailure_ClosedExactlyAtWindowEdge_KeepsCounting()
    {
        var next = CircuitStateMachine.RecordFailure(Closed with { FailureCount = 4, LastFailureUnixMs = Now - 60_000 }, Now, Settings);

        Assert.Equal(5, next!.FailureCount);
        Assert.Equal(StoredCircuitState.Open, next.State);
    }

    [Fact]
    public void RecordFailure_ClosedReachingThreshold_OpensForBreakDurationWithZeroConsecutiveOpens()
    {
        var next = CircuitStateMachine.RecordFailure(Closed with { FailureCount = 4, ConsecutiveOpens = 3 }, Now, Settings);

        Assert.Equal(StoredCircuitState.Open, next!.State);
        Assert.Equal(5, next.FailureCount);
        Assert.Equal(0, next.ConsecutiveOpens);
        Assert.Equal(Now + 10_000, next.NextAttemptUnixMs);
    }

    [Fact]
    public void RecordFailure_HalfOpen_ReopensWithDoubledBreak()
    {
        var next = CircuitStateMachine.RecordFailure(HalfOpen, Now, Settings);

        Assert.Equal(StoredCircuitState.Open, next!.State);
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
        Assert.Equal(expected, CircuitStateMachine.BreakDurationMs(consecutiveOpens, Settings));
    }

    [Fact]
    public void RecordFailureAndRecordSuccess_Open_ChangeNothing()
    {
        var open = new CircuitSnapshot { State = StoredCircuitState.Open, NextAttemptUnixMs = Now + 5_000, ConsecutiveOpens = 2 };

        Assert.Null(CircuitStateMachine.RecordFailure(open, Now, Settings));
        Assert.Null(CircuitStateMachine.RecordSuccess(open, Now, Settings));
    }

    [Fact]
    public void RecordSuccess_Closed_ChangesNothing()
    {
        Assert.Null(CircuitStateMachine.RecordSuccess(Closed with { FailureCount = 3 }, Now, Settings));
    }

    [Fact]
    public void RecordSuccess_HalfOpenBelowSuccessThreshold_CountsSuccess()
    {
        var next = CircuitStateMachine.RecordSuccess(HalfOpen, Now, Settings);

        Assert.Equal(StoredCircuitState.HalfOpen, next!.State);
        Assert.Equal(1, next.SuccessCount);
    }

    [Fact]
    public void RecordSuccess_HalfOpenReachingSuccessThreshold_ClosesAndResetsCounts()
    {
        var next = CircuitStateMachine.RecordSuccess(HalfOpen with { SuccessCount = 1 }, Now, Settings);

        Assert.Equal(StoredCircuitState.Closed, next!.State);
        Assert.Equal(0, next.FailureCount);
        Assert.Equal(0, next.SuccessCount);
        Assert.Equal(0, next.ConsecutiveOpens);
    }

    [Fact]
    public void Close_Isolated_ClosesWithZeroCounts()
    {
        var isolated = CircuitStateMachine.Isolate(Closed with { FailureCount = 3 }, Now);

        var closed = CircuitStateMachine.Close(isolated, Now + 5);

        Assert.True(isolated.IsIsolated);
        Assert.Equal(StoredCircuitState.Closed, closed.State);
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

        var (outcome, next) = CircuitStateMachine.FailureIncrement(Now, Settings, "write-1").ApplyTo(closed);

        Assert.Equal(CircuitStateMachine.RecordFailure(closed, Now, Settings), next);
        Assert.Equal(expectedCount, next!.FailureCount);
        Assert.Equal(opens ? CircuitIncrementOutcome.CountedAndOpened : CircuitIncrementOutcome.Counted, outcome);
    }

    [Theory]
    [InlineData(0, 1, true)]
    [InlineData(0, 0, false)]
    [InlineData(1, 1, false)]
    public void PredatesTheEpisode_ClosedCircuitChangedAfterTheFailure_OnlyWithNothingCountedSince(long failures, long changedAfterFailureMs, bool predates)
    {
        var closed = Closed with { FailureCount = failures, LastFailureUnixMs = Now - 1_000, StateTimestampUnixMs = Now + changedAfterFailureMs };
        var increment = CircuitStateMachine.FailureIncrement(Now, Settings, "write-1");

        Assert.Equal(predates, increment.PredatesTheEpisode(closed));
        Assert.Equal(predates ? CircuitIncrementOutcome.NotCounted : CircuitIncrementOutcome.Counted, increment.ApplyTo(closed).Outcome);
    }

    [Fact]
    public void RecordFailure_ClosedByAProcessWhoseClockRunsAhead_StillCounts()
    {
        var closed = Closed with { FailureCount = 0, StateTimestampUnixMs = Now + 300 };

        var next = CircuitStateMachine.RecordFailure(closed, Now, Settings);

        Assert.Equal((1L, Now + 300), (next!.FailureCount, next.LastFailureUnixMs));
    }

    [Fact]
    public void FailureIncrement_AppliedToOpen_CountsNothing()
    {
        var open = new CircuitSnapshot { State = StoredCircuitState.Open, FailureCount = 5, NextAttemptUnixMs = Now + 1 };

        var (outcome, next) = CircuitStateMachine.FailureIncrement(Now, Settings, "write-1").ApplyTo(open);

        Assert.Equal(CircuitIncrementOutcome.NotCounted, outcome);
        Assert.Null(next);
    }

    [Theory]
    [InlineData(StoredCircuitState.Closed, 4, 10, 4L)]
    [InlineData(StoredCircuitState.Closed, 0, -1, 0L)]
    [InlineData(StoredCircuitState.Closed, 4, 60_001, null)]
    [InlineData(StoredCircuitState.Open, 5, 10, null)]
    [InlineData(StoredCircuitState.HalfOpen, 0, 10, null)]
    public void FailureIncrement_AdmittedOn_HintsTheCountStillInTheWindow(StoredCircuitState state, long failures, long sinceLastFailureMs, long? hint)
    {
        var admittedOn = new CircuitSnapshot { State = state, FailureCount = failures, LastFailureUnixMs = sinceLastFailureMs < 0 ? 0 : Now - sinceLastFailureMs };

        var increment = CircuitStateMachine.FailureIncrement(Now, Settings, "write-1", admittedOn);

        Assert.Equal(hint, increment.LastSeenFailureCount);
        Assert.Null(CircuitStateMachine.FailureIncrement(Now, Settings, "write-1").LastSeenFailureCount);
    }

    [Theory]
    [InlineData(-1, false)]
    [InlineData(1_499, false)]
    [InlineData(1_500, true)]
    [InlineData(40_000, true)]
    public void WithoutStore_OpenSeen_RejectsUntilNextAttemptPlusAnswerWaitThenProbesLocally(long sinceNextAttemptMs, bool probesLocally)
    {
        var expected = probesLocally ? CheckVerdict.ProbeLocally : CheckVerdict.Reject;
        var open = new CircuitSnapshot { State = StoredCircuitState.Open, NextAttemptUnixMs = Now - sinceNextAttemptMs };

        var decision = CircuitStateMachine.WithoutStore(open, Now, answerWaitMs: 1_500);

        Assert.Equal(expected, decision.Verdict);
        Assert.Equal(expected == CheckVerdict.Reject ? 1_500 - sinceNextAttemptMs : 0, decision.RetryAfterMs);
    }

    [Fact]
    public void WithoutStore_IsolatedSeen_RejectsWhateverTheWait()
    {
        var isolated = CircuitStateMachine.Isolate(Closed, Now - 100_000);

        var decision = CircuitStateMachine.WithoutStore(isolated, Now, answerWaitMs: 0);

        Assert.Equal(CheckVerdict.Reject, decision.Verdict);
        Assert.True(decision.Isolated);
    }

    [Fact]
    public void WithoutStore_HalfOpenLastWriterWins_Allows()
    {
        Assert.Equal(CheckVerdict.Allow, CircuitStateMachine.WithoutStore(HalfOpen with { StateTimestampUnixMs = Now }, Now, answerWaitMs: 1_500).Verdict);
    }

    [Fact]
    public void RecordFailure_CountersAtMaximum_Saturate()
    {
        var closed = Closed with { FailureCount = long.MaxValue, LastFailureUnixMs = Now };
        var halfOpen = HalfOpen with { FailureCount = long.MaxValue, ConsecutiveOpens = long.MaxValue };

        Assert.Equal(long.MaxValue, CircuitStateMachine.RecordFailure(closed, Now, Settings)!.FailureCount);
        var reopened = CircuitStateMachine.RecordFailure(halfOpen, Now, Settings)!;
        Assert.Equal(long.MaxValue, reopened.FailureCount);
        Assert.Equal(long.MaxValue, reopened.ConsecutiveOpens);
        Assert.Equal(Now + 60_000, reopened.NextAttemptUnixMs);
    }

    [Fact]
    public void OrderedAfter_ReadStateStampedAheadOfThisClock_StampsTheWriteJustAfterIt()
    {
        var readFrom = Closed with { FailureCount = 1, StateTimestampUnixMs = Now + 10_000 };
        var next = CircuitStateMachine.RecordFailure(readFrom, Now, Settings)!;

        var ordered = CircuitStateMachine.OrderedAfter(next, readFrom);

        Assert.Equal(Now + 10_001, ordered.StateTimestampUnixMs);
        Assert.Equal(next with { StateTimestampUnixMs = Now + 10_001 }, ordered);
    }

    [Fact]
    public void OrderedAfter_ReadStateOlderThanThisClock_KeepsTheWritesOwnStamp()
    {
        var readFrom = Closed with { StateTimestampUnixMs = Now - 5 };
        var next = CircuitStateMachine.RecordFailure(readFrom, Now, Settings)!;

        Assert.Same(next, CircuitStateMachine.OrderedAfter(next, readFrom));
    }

    [Fact]
    public void OpenedByCount_ClosedAtThresholdInWindow_OpenFromTheLastFailureForOneBreak()
    {
        var counted = Closed with { FailureCount = 5, LastFailureUnixMs = Now - 1_000, StateTimestampUnixMs = Now - 1_000 };

        var opened = CircuitStateMachine.OpenedByCount(counted, Now, Settings)!;

        Assert.Equal(StoredCircuitState.Open, opened.State);
        Assert.Equal(Now - 1_000 + Settings.BreakDurationMs, opened.NextAttemptUnixMs);
        Assert.Equal(0, opened.ConsecutiveOpens);
    }

    [Theory]
    [InlineData(4, 1_000)]
    [InlineData(5, 60_001)]
    public void OpenedByCount_BelowThresholdOrOutsideTheWindow_Null(long failureCount, long lastFailureAgo)
    {
        var counted = Closed with { FailureCount = failureCount, LastFailureUnixMs = Now - lastFailureAgo };

        Assert.Null(CircuitStateMachine.OpenedByCount(counted, Now, Settings));
    }

    [Fact]
    public void OpenedByCount_QuorumNotMet_Null()
    {
        var quorum = Settings with { MinimumFailingEnvironments = 2 };
        var counted = Closed with { FailureCount = 5, LastFailureUnixMs = Now, FailingEnvironments = EnvironmentSet.Parse("env-a") };

        Assert.Null(CircuitStateMachine.OpenedByCount(counted, Now, quorum));
        Assert.NotNull(CircuitStateMachine.OpenedByCount(counted with { FailingEnvironments = EnvironmentSet.Parse("env-a env-b") }, Now, quorum));
    }
}
