using System.Runtime.CompilerServices;
using Microsoft.Extensions.Time.Testing;
using Polly.CircuitBreaker;
using Polly.Registry;

namespace Polly.Distributed.CircuitBreaker.Tests.Telemetry;

[Collection(nameof(MetricsCollection))]
public sealed class CircuitStateGaugeTests
{
    private const string StateName = "resilience.distributed_circuit_breaker.state";

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly InMemoryCircuitStateStore _store = new();
    private readonly string _circuitId = "gauge-" + Guid.NewGuid().ToString("N");

    public enum Seen
    {
        Closed,
        HalfOpen,
        Open,
        Isolated,
    }

    [Theory]
    [InlineData(Seen.Closed, 0)]
    [InlineData(Seen.HalfOpen, 1)]
    [InlineData(Seen.Open, 2)]
    [InlineData(Seen.Isolated, 3)]
    public async Task StateGauge_BreakerSawState_ReportsItsValueTaggedWithCircuitPipelineAndStrategy(Seen seen, int expected)
    {
        await StoreAsync(seen);
        using var gauge = new InstrumentRecorder<int>(StateName);
        var pipeline = new ResiliencePipelineBuilder { Name = "orders-pipeline", InstanceName = "orders-instance", TimeProvider = _time }
            .AddDistributedCircuitBreaker(new DistributedCircuitBreakerStrategyOptions { CircuitId = _circuitId, StateStore = _store })
            .Build();

        await CallAsync(pipeline);

        var state = Assert.Single(Observe(gauge));
        Assert.Equal(expected, state.Value);
        Assert.Equal("orders-pipeline", state.Tags["pipeline.name"]);
        Assert.Equal("orders-instance", state.Tags["pipeline.instance"]);
        Assert.Equal("DistributedCircuitBreaker", state.Tags["strategy.name"]);
    }

    [Fact]
    public async Task StateGauge_CircuitOpensAfterward_ReportsTheNewState()
    {
        using var gauge = new InstrumentRecorder<int>(StateName);
        var pipeline = new ResiliencePipelineBuilder { TimeProvider = _time }
            .AddDistributedCircuitBreaker(new DistributedCircuitBreakerStrategyOptions { CircuitId = _circuitId, StateStore = _store, FailureThreshold = 1 })
            .Build();
        await CallAsync(pipeline);
        Assert.Equal(0, Assert.Single(Observe(gauge)).Value);

        await Assert.ThrowsAsync<HttpRequestException>(async () => await pipeline.ExecuteAsync(_ => throw new HttpRequestException("down")));

        Assert.Equal(2, Assert.Single(Observe(gauge)).Value);
    }

    [Fact]
    public void StateGauge_BreakerSawNoStateYet_ReportsNothing()
    {
        using var gauge = new InstrumentRecorder<int>(StateName);
        var pipeline = new ResiliencePipelineBuilder()
            .AddDistributedCircuitBreaker(new DistributedCircuitBreakerStrategyOptions { CircuitId = _circuitId, StateStore = _store })
            .Build();

        Assert.Empty(Observe(gauge));
        GC.KeepAlive(pipeline);
    }

    [Fact]
    public async Task StateGauge_RegistryDisposed_StopsReportingItsBreakers()
    {
        using var gauge = new InstrumentRecorder<int>(StateName);
        var registry = new ResiliencePipelineRegistry<string>();
        var pipeline = registry.GetOrAddPipeline("orders", builder => builder.AddDistributedCircuitBreaker(
            new DistributedCircuitBreakerStrategyOptions { CircuitId = _circuitId, StateStore = _store }));
        await CallAsync(pipeline);
        Assert.Equal("orders", Assert.Single(Observe(gauge)).Tags["pipeline.name"]);

        await registry.DisposeAsync();

        await Eventually.TrueAsync(() => Observe(gauge).Count == 0);
    }

    [Fact]
    public async Task StateGauge_PipelineDroppedWithoutDispose_LeavesTheGaugeWhenCollected()
    {
        using var gauge = new InstrumentRecorder<int>(StateName);
        var dropped = await BuildAndCallAsync();

        await Eventually.TrueAsync(() =>
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            return !dropped.TryGetTarget(out _) && Observe(gauge).Count == 0;
        });
    }

    // Kept out of the caller's frame, so that nothing there keeps the pipeline alive.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private async Task<WeakReference<ResiliencePipeline>> BuildAndCallAsync()
    {
        var pipeline = new ResiliencePipelineBuilder()
            .AddDistributedCircuitBreaker(new DistributedCircuitBreakerStrategyOptions { CircuitId = _circuitId, StateStore = _store })
            .Build();
        await pipeline.ExecuteAsync(static _ => ValueTask.CompletedTask);
        return new WeakReference<ResiliencePipeline>(pipeline);
    }

    private static async Task CallAsync(ResiliencePipeline pipeline)
    {
        try
        {
            await pipeline.ExecuteAsync(static _ => ValueTask.CompletedTask);
        }
        catch (BrokenCircuitException)
        {
            // An open or isolated circuit rejects the call; the breaker has seen its state all the same.
        }
    }

    private List<RecordedMeasurement<int>> Observe(InstrumentRecorder<int> gauge)
    {
        gauge.ObserveNow();
        return [.. gauge.Measurements.Where(m => Equals(m.Tags["circuit.id"], _circuitId))];
    }

    private async Task StoreAsync(Seen seen)
    {
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var snapshot = seen switch
        {
            Seen.HalfOpen => new CircuitSnapshot { State = StoredCircuitState.HalfOpen, NextAttemptUnixMs = now - 1_000, StateTimestampUnixMs = now - 1_000 },
            Seen.Open => new CircuitSnapshot { State = StoredCircuitState.Open, NextAttemptUnixMs = now + 3_600_000, StateTimestampUnixMs = now },
            Seen.Isolated => new CircuitSnapshot { State = StoredCircuitState.Open, NextAttemptUnixMs = CircuitSnapshot.IsolatedUntilUnixMs, StateTimestampUnixMs = now },
            _ => null,
        };

        if (snapshot is not null)
        {
            await _store.WriteAsync(_circuitId, snapshot, CancellationToken.None);
        }
    }
}
