using Microsoft.Extensions.Time.Testing;
using Polly.CircuitBreaker;
using Polly.Distributed.CircuitBreaker;
using Xunit;

namespace Polly.Distributed.CircuitBreaker.TestKit;

/// <summary>
/// Fifty separately built pipelines ("execution environments") on one circuit of one store, failing together.
/// Derive once per store.
/// </summary>
public abstract class FleetTests
{
    protected const int FleetSize = 50;

    private readonly FakeTimeProvider _time = new(DateTimeOffset.FromUnixTimeMilliseconds(1_750_000_000_000));

    /// <summary>Creates the store one execution environment uses; all of them must reach the same shared state.</summary>
    protected abstract ICircuitStateStore CreateEnvironmentStore();

    [Fact]
    public async Task AtomicFleet_ConcurrentFailures_OpensOnceWithThresholdCount()
    {
        var circuitId = NewCircuitId();
        var opened = 0;
        var fleet = BuildFleet(circuitId, CircuitConsistency.Atomic, failureThreshold: 5, onOpened: () => Interlocked.Increment(ref opened));

        await RunConcurrentlyAsync(fleet, _ => throw new HttpRequestException("dependency down"));

        var stored = await ReadAsync(circuitId);
        Assert.Equal(1, opened);
        Assert.Equal(StoredCircuitState.Open, stored.State);

        // Failures counted before the opening write landed stay counted (a store may open in a second step).
        Assert.InRange(stored.FailureCount, 5, FleetSize);
    }

    [Fact]
    public async Task AtomicFleet_ConcurrentFailuresBelowThreshold_LosesNoCount()
    {
        var circuitId = NewCircuitId();
        var fleet = BuildFleet(circuitId, CircuitConsistency.Atomic, failureThreshold: 1_000);

        await RunConcurrentlyAsync(fleet, _ => throw new HttpRequestException("dependency down"));

        Assert.Equal(FleetSize, (await ReadAsync(circuitId)).FailureCount);
    }

    [Fact]
    public async Task AtomicFleet_HalfOpen_AdmitsExactlyOneProbe()
    {
        var circuitId = NewCircuitId();
        var halfOpened = 0;
        var fleet = BuildFleet(circuitId, CircuitConsistency.Atomic, failureThreshold: 5, onHalfOpened: () => Interlocked.Increment(ref halfOpened));
        await CreateEnvironmentStore().WriteAsync(
            circuitId,
            new CircuitSnapshot { State = StoredCircuitState.Open, FailureCount = 5, NextAttemptUnixMs = NowMs - 1, StateTimestampUnixMs = NowMs - 10_000 },
            CancellationToken.None);

        var probes = 0;
        var finished = 0;
        var othersFinished = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var outcomes = await RunConcurrentlyAsync(
            fleet,
            async _ =>
            {
                Interlocked.Increment(ref probes);
                await othersFinished.Task.WaitAsync(TimeSpan.FromSeconds(20));
            },
            onFinished: () =>
            {
                if (Interlocked.Increment(ref finished) == FleetSize - 1)
                {
                    othersFinished.TrySetResult();
                }
            });

        Assert.Equal(1, probes);
        Assert.Equal(1, halfOpened);
        Assert.Equal(FleetSize - 1, outcomes.Count(e => e is BrokenCircuitException));
        var stored = await ReadAsync(circuitId);
        Assert.Equal(StoredCircuitState.HalfOpen, stored.State);
        Assert.Equal(1, stored.SuccessCount);
    }

    [Fact]
    public async Task AtomicFleet_ClocksSkewedBeyondTheLease_AdmitsExactlyOneProbe()
    {
        // Eight environments whose clocks differ by up to 280 s, with a 30 s lease.
        var circuitId = NewCircuitId();
        await CreateEnvironmentStore().WriteAsync(
            circuitId,
            new CircuitSnapshot { State = StoredCircuitState.Open, FailureCount = 5, NextAttemptUnixMs = NowMs - 1_000_000, StateTimestampUnixMs = NowMs - 1_000_000 },
            CancellationToken.None);
        var fleet = Enumerable.Range(0, 8)
            .Select(i => new ResiliencePipelineBuilder { TimeProvider = new FakeTimeProvider(_time.GetUtcNow() + TimeSpan.FromSeconds((i * 40) - 160)) }
                .AddDistributedCircuitBreaker(new DistributedCircuitBreakerStrategyOptions
                {
                    CircuitId = circuitId,
                    StateStore = CreateEnvironmentStore(),
                    Consistency = CircuitConsistency.Atomic,
                    ProbeLeaseDuration = TimeSpan.FromSeconds(30),
                    StoreTimeout = TimeSpan.FromSeconds(30),
                })
                .Build())
            .ToArray();

        var probes = 0;
        var finished = 0;
        var othersFinished = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await RunConcurrentlyAsync(
            fleet,
            async _ =>
            {
                Interlocked.Increment(ref probes);
                await othersFinished.Task.WaitAsync(TimeSpan.FromSeconds(20));
            },
            onFinished: () =>
            {
                if (Interlocked.Increment(ref finished) == fleet.Length - 1)
                {
                    othersFinished.TrySetResult();
                }
            });

        Assert.Equal(1, probes);
    }

    [Fact]
    public async Task LastWriterWinsFleet_RepeatedConcurrentFailureWaves_Opens()
    {
        var circuitId = NewCircuitId();
        var fleet = BuildFleet(circuitId, CircuitConsistency.LastWriterWins, failureThreshold: 5);

        for (var wave = 0; wave < 10 && (await ReadAsync(circuitId)).State != StoredCircuitState.Open; wave++)
        {
            await RunConcurrentlyAsync(fleet, _ => throw new HttpRequestException("dependency down"));
        }

        Assert.Equal(StoredCircuitState.Open, (await ReadAsync(circuitId)).State);
    }

    protected static string NewCircuitId() => "fleet-" + Guid.NewGuid().ToString("N");

    private long NowMs => _time.GetUtcNow().ToUnixTimeMilliseconds();

    private ResiliencePipeline[] BuildFleet(
        string circuitId,
        CircuitConsistency consistency,
        int failureThreshold,
        Action? onOpened = null,
        Action? onHalfOpened = null) =>
        Enumerable.Range(0, FleetSize)
            .Select(_ => new ResiliencePipelineBuilder { TimeProvider = _time }
                .AddDistributedCircuitBreaker(new DistributedCircuitBreakerStrategyOptions
                {
                    CircuitId = circuitId,
                    StateStore = CreateEnvironmentStore(),
                    Consistency = consistency,
                    FailureThreshold = failureThreshold,
                    StoreTimeout = TimeSpan.FromSeconds(30),
                    OnOpened = _ =>
                    {
                        onOpened?.Invoke();
                        return default;
                    },
                    OnHalfOpened = _ =>
                    {
                        onHalfOpened?.Invoke();
                        return default;
                    },
                })
                .Build())
            .ToArray();

    private static async Task<Exception?[]> RunConcurrentlyAsync(ResiliencePipeline[] fleet, Func<CancellationToken, ValueTask> call, Action? onFinished = null)
    {
        using var start = new ManualResetEventSlim();
        var runs = fleet.Select(pipeline => Task.Run(async () =>
        {
            start.Wait();
            try
            {
                await pipeline.ExecuteAsync(call);
                return null;
            }
            catch (Exception ex)
            {
                return ex;
            }
            finally
            {
                onFinished?.Invoke();
            }
        })).ToArray();

        start.Set();
        return await Task.WhenAll(runs);
    }

    private async Task<CircuitSnapshot> ReadAsync(string circuitId) =>
        (await CreateEnvironmentStore().ReadAsync(circuitId, CancellationToken.None)).Snapshot;
}
