using Polly.Distributed.CircuitBreaker.Controller;
using Polly.Distributed.CircuitBreaker.State;

namespace Polly.Distributed.CircuitBreaker.Tests.Controller;

public class LocalCircuitTests
{
    private static readonly CircuitBreakerSettings Settings = new(
        FailureThreshold: 3,
        SuccessThreshold: 2,
        BreakDurationMs: 1_000,
        MaxBreakDurationMs: 3_000,
        FailureWindowMs: 10_000,
        ProbeLeaseMs: 30_000);

    [Fact]
    public void RecordFailure_ReachingThreshold_OpensAndRejectsUntilTheBreakEnds()
    {
        var local = new LocalCircuit(Settings);

        Assert.False(local.RecordFailure(0, wasProbe: false, sharedCircuitOpen: false));
        Assert.False(local.RecordFailure(1, wasProbe: false, sharedCircuitOpen: false));
        Assert.True(local.RecordFailure(2, wasProbe: false, sharedCircuitOpen: false));

        Assert.Equal(LocalCircuitState.Open, local.State);
        Assert.Equal(LocalAdmission.Rejected, local.Admit(500, out var retryAfterMs));
        Assert.Equal(502, retryAfterMs);
    }

    [Fact]
    public void RecordFailure_AfterTheFailureWindow_CountsFromOne()
    {
        var local = new LocalCircuit(Settings);
        local.RecordFailure(0, wasProbe: false, sharedCircuitOpen: false);
        local.RecordFailure(1, wasProbe: false, sharedCircuitOpen: false);

        Assert.False(local.RecordFailure(10_002, wasProbe: false, sharedCircuitOpen: false));
        Assert.False(local.RecordFailure(10_003, wasProbe: false, sharedCircuitOpen: false));
        Assert.Equal(LocalCircuitState.Closed, local.State);
    }

    [Fact]
    public void RecordFailure_SharedCircuitOpen_EndsTheLocalEpisodeWithoutOpening()
    {
        var local = new LocalCircuit(Settings);
        local.RecordFailure(0, wasProbe: false, sharedCircuitOpen: false);
        local.RecordFailure(1, wasProbe: false, sharedCircuitOpen: false);

        Assert.False(local.RecordFailure(2, wasProbe: false, sharedCircuitOpen: true));
        Assert.False(local.RecordFailure(3, wasProbe: false, sharedCircuitOpen: false));
        Assert.Equal(LocalCircuitState.Closed, local.State);
    }

    [Fact]
    public void Admit_BreakEnded_LetsOneProbeThrough()
    {
        var local = Opened();

        Assert.Equal(LocalAdmission.Probe, local.Admit(1_100, out _));
        Assert.Equal(LocalAdmission.Rejected, local.Admit(1_101, out _));
        local.ReleaseProbe();
        Assert.Equal(LocalAdmission.Probe, local.Admit(1_102, out _));
    }

    [Fact]
    public void RecordFailure_ProbeFails_ReopensWithDoubledBreak()
    {
        var local = Opened();
        local.Admit(1_100, out _);

        Assert.True(local.RecordFailure(1_200, wasProbe: true, sharedCircuitOpen: false));

        Assert.Equal(LocalAdmission.Rejected, local.Admit(3_199, out var retryAfterMs));
        Assert.Equal(1, retryAfterMs);
        Assert.Equal(LocalAdmission.Probe, local.Admit(3_200, out _));
    }

    [Fact]
    public void RecordSuccess_ProbeSucceeds_Closes()
    {
        var local = Opened();
        local.Admit(1_100, out _);

        Assert.False(local.RecordSuccess(wasProbe: false));
        Assert.True(local.RecordSuccess(wasProbe: true));

        Assert.Equal(LocalCircuitState.Closed, local.State);
        Assert.Equal(LocalAdmission.Allowed, local.Admit(1_101, out _));
    }

    [Fact]
    public void AdmitForFleet_ClosedLocalCircuit_LetsOneProbeThroughAtATime()
    {
        var local = new LocalCircuit(Settings);

        Assert.Equal(LocalAdmission.Probe, local.AdmitForFleet(0, fleetConsecutiveOpens: 0, out _));
        Assert.Equal(LocalAdmission.Rejected, local.AdmitForFleet(1, fleetConsecutiveOpens: 0, out _));
        Assert.Equal(LocalAdmission.Rejected, local.Admit(2, out _));
        Assert.Equal(LocalCircuitState.HalfOpen, local.State);
    }

    [Fact]
    public void AdmitForFleet_ProbeFails_BreaksAsLongAsTheFleetWould()
    {
        var local = new LocalCircuit(Settings);
        local.AdmitForFleet(0, fleetConsecutiveOpens: 1, out _);

        Assert.True(local.RecordFailure(100, wasProbe: true, sharedCircuitOpen: false));

        // Two failed probes: 1 s doubled twice, at most 3 s.
        Assert.Equal(LocalAdmission.Rejected, local.Admit(3_099, out var retryAfterMs));
        Assert.Equal(1, retryAfterMs);
        Assert.Equal(LocalAdmission.Probe, local.Admit(3_100, out _));
    }

    [Fact]
    public void AdmitForFleet_LocalCircuitOpen_RejectsUntilItsOwnBreakEnds()
    {
        var local = Opened();

        Assert.Equal(LocalAdmission.Rejected, local.AdmitForFleet(500, fleetConsecutiveOpens: 0, out var retryAfterMs));
        Assert.Equal(520, retryAfterMs);
    }

    // A failure, then one whose count is unanswered: the circuit opens below its threshold.
    private static LocalCircuit OpenedWhileACountIsUnanswered(long firstFailureMs, long secondFailureMs)
    {
        var local = new LocalCircuit(Settings);
        local.RecordFailure(firstFailureMs, wasProbe: false, sharedCircuitOpen: false);
        local.RecordFailure(secondFailureMs, wasProbe: false, sharedCircuitOpen: false, failureUnanswered: true);
        return local;
    }

    private static LocalCircuit Opened()
    {
        var local = new LocalCircuit(Settings);
        for (var i = 0; i < Settings.FailureThreshold; i++)
        {
            local.RecordFailure(i * 10, wasProbe: false, sharedCircuitOpen: false);
        }

        return local;
    }

    [Fact]
    public void RecordFailure_SecondFailureWhileACountIsUnanswered_OpensBelowTheThreshold()
    {
        var local = new LocalCircuit(Settings);

        Assert.False(local.RecordFailure(0, wasProbe: false, sharedCircuitOpen: false, failureUnanswered: true));
        Assert.True(local.RecordFailure(1, wasProbe: false, sharedCircuitOpen: false, failureUnanswered: true));

        Assert.Equal(LocalAdmission.Rejected, local.Admit(2, out _));
    }

    [Fact]
    public void EndUnansweredOpening_OpenedBelowTheThreshold_Closes()
    {
        var local = OpenedWhileACountIsUnanswered(firstFailureMs: 0, secondFailureMs: 1);

        local.EndUnansweredOpening(2, countsHeldUpToMs: 0);

        Assert.True(local.IsClosed);
    }

    [Fact]
    public void EndUnansweredOpening_AnswerSoonerThanOthersMayHoldTheirCounts_StaysOpen()
    {
        var local = OpenedWhileACountIsUnanswered(firstFailureMs: 1_000, secondFailureMs: 1_020);

        local.EndUnansweredOpening(1_200, countsHeldUpToMs: 1_500);

        Assert.Equal(LocalCircuitState.Open, local.State);
    }

    [Fact]
    public void EndUnansweredOpening_FirstFailureLongerAgoThanOthersMayHoldTheirCounts_Closes()
    {
        var local = OpenedWhileACountIsUnanswered(firstFailureMs: 1_000, secondFailureMs: 9_000);

        local.EndUnansweredOpening(9_200, countsHeldUpToMs: 1_500);

        Assert.True(local.IsClosed);
    }

    [Fact]
    public void EndUnansweredOpening_OpenedAtTheThreshold_StaysOpen()
    {
        var local = new LocalCircuit(Settings);
        for (var i = 0; i < 3; i++)
        {
            local.RecordFailure(i, wasProbe: false, sharedCircuitOpen: false);
        }

        local.EndUnansweredOpening(3, countsHeldUpToMs: 0);

        Assert.Equal(LocalCircuitState.Open, local.State);
    }
}
