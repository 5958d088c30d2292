using Microsoft.Extensions.Time.Testing;

namespace Polly.Distributed.CircuitBreaker.Sidecar.Tests;

/// <summary>The circuits a sidecar serves, over the in-memory store: the transitions its answers name.</summary>
public sealed class SidecarCircuitsTests
{
    private const string Circuit = "orders";
    private readonly FakeTimeProvider _time = new();
    private readonly InMemoryCircuitStateStore _store = new();

    [Theory]
    [InlineData(CircuitConsistency.Atomic)]
    [InlineData(CircuitConsistency.LastWriterWins)]
    public async Task ReportAsync_FailuresReachThreshold_TransitionIsClosedToOpenAndSaysWhoOpenedItAndWhy(CircuitConsistency consistency)
    {
        var circuits = Circuits(consistency);

        var last = await FailAsync(circuits, times: 3);

        Assert.Equal(StoredCircuitState.Open, last.State);
        Assert.Equal("CLOSED->OPEN", last.Transition);
        Assert.Equal(DistributedCircuitBreakerEnvironment.Id, last.OpenedBy);
        Assert.Equal("ReportedFailureException", last.OpenedReason);
    }

    [Fact]
    public async Task CheckAsync_OpenCircuit_SaysWhichEnvironmentOpenedItAndWhy()
    {
        var circuits = Circuits(CircuitConsistency.Atomic);
        await FailAsync(circuits, times: 3);

        var check = await circuits.CheckAsync(Circuit, CancellationToken.None);

        Assert.NotNull(check);
        Assert.False(check.Allowed);
        Assert.Equal(DistributedCircuitBreakerEnvironment.Id, check.OpenedBy);
        Assert.Equal("ReportedFailureException", check.OpenedReason);
    }

    [Fact]
    public async Task ReportAsync_ClosedCircuit_SaysNothingOfAnOpening()
    {
        var circuits = Circuits(CircuitConsistency.Atomic);

        var report = await FailAsync(circuits, times: 1);

        Assert.Equal(StoredCircuitState.Closed, report.State);
        Assert.Null(report.OpenedBy);
        Assert.Null(report.OpenedReason);
    }

    [Theory]
    [InlineData(CircuitConsistency.Atomic)]
    [InlineData(CircuitConsistency.LastWriterWins)]
    public async Task ReportAsync_FailedHalfOpenCall_TransitionIsHalfOpenToOpen(CircuitConsistency consistency)
    {
        var circuits = Circuits(consistency);
        await FailAsync(circuits, times: 3);
        _time.Advance(TimeSpan.FromSeconds(2));

        var check = await circuits.CheckAsync(Circuit, CancellationToken.None);
        Assert.NotNull(check);
        var report = await circuits.ReportAsync(Circuit, failed: true, check.ProbeToken, CancellationToken.None);

        Assert.True(check.Allowed);
        Assert.Equal("OPEN->HALF-OPEN", check.Transition);
        Assert.NotNull(report);
        Assert.Equal(StoredCircuitState.Open, report.State);
        Assert.Equal("HALF-OPEN->OPEN", report.Transition);
    }

    [Fact]
    public async Task ReportAsync_FailureAfterAnotherProcessHalfOpenedTheCircuit_TransitionIsHalfOpenToOpen()
    {
        var circuits = Circuits(CircuitConsistency.LastWriterWins);
        var check = await circuits.CheckAsync(Circuit, CancellationToken.None);
        Assert.NotNull(check);
        Assert.Equal(StoredCircuitState.Closed, check.State);
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        await _store.WriteAsync(Circuit, new CircuitSnapshot { State = StoredCircuitState.HalfOpen, FailureCount = 3, NextAttemptUnixMs = now, StateTimestampUnixMs = now }, CancellationToken.None);

        var report = await circuits.ReportAsync(Circuit, failed: true, probeToken: null, CancellationToken.None);

        Assert.NotNull(report);
        Assert.Equal(StoredCircuitState.Open, report.State);
        Assert.Equal("HALF-OPEN->OPEN", report.Transition);
    }

    [Fact]
    public async Task ReportAsync_FailuresAfterAnotherProcessClosedAHalfOpenCircuit_TransitionIsClosedToOpen()
    {
        var circuits = Circuits(CircuitConsistency.LastWriterWins);
        await FailAsync(circuits, times: 3);
        _time.Advance(TimeSpan.FromSeconds(2));
        var check = await circuits.CheckAsync(Circuit, CancellationToken.None);
        Assert.NotNull(check);
        Assert.Equal(StoredCircuitState.HalfOpen, check.State);
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        await _store.WriteAsync(Circuit, new CircuitSnapshot { FailureCount = 2, LastFailureUnixMs = now, StateTimestampUnixMs = now }, CancellationToken.None);

        var report = await circuits.ReportAsync(Circuit, failed: true, probeToken: null, CancellationToken.None);

        Assert.NotNull(report);
        Assert.Equal(StoredCircuitState.Open, report.State);
        Assert.Equal("CLOSED->OPEN", report.Transition);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task CheckAsync_ProbeOfThisProcessOwnCircuit_MatchedWithItsReportOrGivenBackAfterTheLease(bool reported)
    {
        // Below the quorum, this process's own circuit opens alone; its half-open probe is granted like the fleet's.
        var circuits = new SidecarCircuits(
            new DistributedCircuitBreakerStrategyOptions
            {
                CircuitId = "template",
                FailureThreshold = 3,
                BreakDuration = TimeSpan.FromSeconds(1),
                ProbeLeaseDuration = TimeSpan.FromSeconds(5),
                Consistency = CircuitConsistency.Atomic,
                MinimumFailingEnvironments = 2,
            },
            _store,
            _time);
        await FailAsync(circuits, times: 3);
        _time.Advance(TimeSpan.FromSeconds(1));

        var probe = await circuits.CheckAsync(Circuit, CancellationToken.None);
        var meanwhile = await circuits.CheckAsync(Circuit, CancellationToken.None);
        if (reported)
        {
            await circuits.ReportAsync(Circuit, failed: false, probe?.ProbeToken, CancellationToken.None);
        }
        else
        {
            _time.Advance(TimeSpan.FromSeconds(5));
        }

        var after = await circuits.CheckAsync(Circuit, CancellationToken.None);

        Assert.True(probe?.Allowed);
        Assert.NotNull(probe?.ProbeToken);
        Assert.False(meanwhile?.Allowed);
        Assert.True(after?.Allowed);
    }

    [Theory]
    [InlineData(CircuitConsistency.Atomic)]
    [InlineData(CircuitConsistency.LastWriterWins)]
    public async Task CheckAsync_FleetBreakEndedWithStoreDown_GrantsOneProbeOfThisProcessWithAToken(CircuitConsistency consistency)
    {
        var faulty = new TestKit.FaultyCircuitStateStore(_store);
        var circuits = new SidecarCircuits(
            new DistributedCircuitBreakerStrategyOptions { CircuitId = "template", FailureThreshold = 3, BreakDuration = TimeSpan.FromSeconds(1), Consistency = consistency },
            faulty,
            _time);
        await FailAsync(circuits, times: 3);
        faulty.Mode = TestKit.FaultyCircuitStateStore.Fault.Throw;

        // The break of 1 s, then the time the store has to answer this process once: the ceiling of 1 s and 500 ms.
        _time.Advance(TimeSpan.FromMilliseconds(2_500));
        var probe = await circuits.CheckAsync(Circuit, CancellationToken.None);
        var meanwhile = await circuits.CheckAsync(Circuit, CancellationToken.None);
        await circuits.ReportAsync(Circuit, failed: false, probe?.ProbeToken, CancellationToken.None);
        var after = await circuits.CheckAsync(Circuit, CancellationToken.None);

        Assert.True(probe?.Allowed);
        Assert.NotNull(probe?.ProbeToken);
        Assert.False(meanwhile?.Allowed);
        Assert.True(after?.Allowed);
    }

    private SidecarCircuits Circuits(CircuitConsistency consistency) => new(
        new DistributedCircuitBreakerStrategyOptions
        {
            CircuitId = "template",
            FailureThreshold = 3,
            SuccessThreshold = 1,
            BreakDuration = TimeSpan.FromSeconds(1),
            Consistency = consistency,
        },
        _store,
        _time);

    private static async Task<ReportAnswer> FailAsync(SidecarCircuits circuits, int times)
    {
        ReportAnswer? last = null;
        for (var i = 0; i < times; i++)
        {
            last = await circuits.ReportAsync(Circuit, failed: true, probeToken: null, CancellationToken.None);
        }

        Assert.NotNull(last);
        return last;
    }
}
