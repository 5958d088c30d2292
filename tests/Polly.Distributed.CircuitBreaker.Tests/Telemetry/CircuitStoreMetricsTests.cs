using System.Diagnostics.Metrics;
using Microsoft.Extensions.Time.Testing;
using Polly.Distributed.CircuitBreaker.Telemetry;

namespace Polly.Distributed.CircuitBreaker.Tests.Telemetry;

[Collection(nameof(MetricsCollection))]
public sealed class CircuitStoreMetricsTests
{
    private const string MeterName = "Polly.Distributed.CircuitBreaker";
    private const string DurationName = "resilience.distributed_circuit_breaker.store.duration";
    private const string FailuresName = "resilience.distributed_circuit_breaker.store.failures";
    private static readonly Func<CancellationToken, ValueTask<int>> Healthy = static _ => new ValueTask<int>(42);

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly ScriptedStore _store = new();

    [Fact]
    public async Task Execute_StoreAnswersIn40Ms_RecordsEachReadInMillisecondsOnBothPaths()
    {
        using var durations = Collect<double>(DurationName);
        _store.During = () => _time.Advance(TimeSpan.FromMilliseconds(40));
        var pipeline = Build();

        // The first read goes to the thread pool; once the store has answered at once, reads are made inline.
        for (var i = 0; i < 3; i++)
        {
            await pipeline.ExecuteAsync(Healthy);
        }

        var reads = Ours(durations);
        Assert.Equal(3, reads.Count);
        Assert.All(reads, read =>
        {
            Assert.Equal(40, read.Value);
            Assert.Equal("read", read.Tags["store.operation"]);
            Assert.False(read.Tags.ContainsKey("error.type"));
        });
    }

    [Theory]
    [InlineData(CircuitStateStoreFailureKind.Timeout, "timeout")]
    [InlineData(CircuitStateStoreFailureKind.Throttled, "throttled")]
    [InlineData(CircuitStateStoreFailureKind.Unreachable, "unreachable")]
    [InlineData(CircuitStateStoreFailureKind.Other, "other")]
    public async Task Execute_ReadFailsWithKind_CountsOneFailureOfThatKind(CircuitStateStoreFailureKind kind, string expected)
    {
        using var failures = Collect<long>(FailuresName);
        using var durations = Collect<double>(DurationName);
        _store.Fail = operation => operation == CircuitStateStoreOperation.Read ? new CircuitStateStoreException("store down") { Kind = kind } : null;
        var pipeline = Build();

        Assert.Equal(42, await pipeline.ExecuteAsync(Healthy));

        var failure = Assert.Single(Ours(failures));
        Assert.Equal(1, failure.Value);
        Assert.Equal("read", failure.Tags["store.operation"]);
        Assert.Equal(expected, failure.Tags["error.type"]);
        Assert.Equal(expected, Assert.Single(Ours(durations)).Tags["error.type"]);
    }

    [Fact]
    public async Task Execute_AtomicCountUnreachable_CountsFailureOfCountOperation()
    {
        using var failures = Collect<long>(FailuresName);
        _store.Fail = operation => operation == CircuitStateStoreOperation.CountFailure
            ? new CircuitStateStoreException("connection refused") { Kind = CircuitStateStoreFailureKind.Unreachable }
            : null;
        var pipeline = Build(o => o.Consistency = CircuitConsistency.Atomic);

        await Assert.ThrowsAsync<HttpRequestException>(async () => await pipeline.ExecuteAsync<int>(_ => throw new HttpRequestException("down")));

        var failure = Assert.Single(Ours(failures));
        Assert.Equal("count_failure", failure.Tags["store.operation"]);
        Assert.Equal("unreachable", failure.Tags["error.type"]);
    }

    [Fact]
    public async Task Execute_InlineStoreThrowsBeforeReturning_CountsTheFailure()
    {
        using var failures = Collect<long>(FailuresName);
        var pipeline = Build();
        await pipeline.ExecuteAsync(Healthy);
        await pipeline.ExecuteAsync(Healthy);
        Assert.Empty(Ours(failures));

        _store.ThrowsSynchronously = true;
        _store.Fail = _ => new CircuitStateStoreException("refused") { Kind = CircuitStateStoreFailureKind.Unreachable };
        await pipeline.ExecuteAsync(Healthy);

        var recorded = Ours(failures);
        Assert.NotEmpty(recorded);
        Assert.All(recorded, failure => Assert.Equal("unreachable", failure.Tags["error.type"]));
    }

    [Fact]
    public async Task Execute_StoreDoesNotAnswerWithinStoreTimeout_RecordsOneTimeoutWhenTheBreakerGivesUp()
    {
        using var failures = Collect<long>(FailuresName);
        using var durations = Collect<double>(DurationName);
        _store.ReadsHang = true;
        var pipeline = new ResiliencePipelineBuilder()
            .AddDistributedCircuitBreaker(new DistributedCircuitBreakerStrategyOptions
            {
                CircuitId = NewCircuitId(),
                StateStore = _store,
                StoreTimeout = TimeSpan.FromMilliseconds(100),
            })
            .Build();

        Assert.Equal(42, await pipeline.ExecuteAsync(Healthy));

        await Eventually.TrueAsync(() => Ours(failures).Count == 1);
        var failure = Assert.Single(Ours(failures));
        Assert.Equal("timeout", failure.Tags["error.type"]);
        Assert.Equal("read", failure.Tags["store.operation"]);
        // About the store timeout: what the call's budget still held when the read started (a busy machine spends some first).
        Assert.InRange(Assert.Single(Ours(durations)).Value, 50, 5_000);

        // The abandoned request ends later, cancelled: it is not recorded a second time.
        await Task.Delay(200);
        Assert.Single(Ours(failures));
    }

    [Fact]
    public async Task Execute_ReadReturnsMalformedItem_CountsMalformedRead()
    {
        using var failures = Collect<long>(FailuresName);
        _store.MalformedReason = "circuitState is 'SIDEWAYS'";
        var pipeline = Build();

        await pipeline.ExecuteAsync(Healthy);

        var failure = Assert.Single(Ours(failures));
        Assert.Equal("malformed", failure.Tags["error.type"]);
        Assert.Equal("read", failure.Tags["store.operation"]);
    }

    [Fact]
    public async Task Execute_ClosedCircuitFromCache_RecordsNothingAfterTheFirstRead()
    {
        using var durations = Collect<double>(DurationName);
        var pipeline = Build(o => o.CacheTtl = TimeSpan.FromMinutes(1));

        for (var i = 0; i < 10; i++)
        {
            await pipeline.ExecuteAsync(Healthy);
        }

        Assert.Single(Ours(durations));
    }

    [Fact]
    public void Execute_NoListener_InlineReadAllocatesNoMoreThanACachedCall()
    {
        Assert.False(CircuitStoreMetrics.Enabled);
        var inline = BuildOnSystemClock(TimeSpan.Zero);
        var cached = BuildOnSystemClock(TimeSpan.FromHours(1));

        Assert.Equal(AllocatedBy(cached), AllocatedBy(inline));
    }

    [Fact]
    public void Execute_ListenerEnabled_InlineReadRecordsWithoutAllocating()
    {
        var recorded = 0;
        var enabled = new List<Instrument>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == MeterName)
                {
                    l.EnableMeasurementEvents(instrument);
                    enabled.Add(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<double>((_, _, _, _) => Interlocked.Increment(ref recorded));
        listener.Start();
        try
        {
            var inline = BuildOnSystemClock(TimeSpan.Zero);
            var cached = BuildOnSystemClock(TimeSpan.FromHours(1));

            var cachedBytes = AllocatedBy(cached);
            var before = Volatile.Read(ref recorded);
            var inlineBytes = AllocatedBy(inline);

            Assert.True(Volatile.Read(ref recorded) - before >= Calls, "every inline read is recorded");
            Assert.Equal(cachedBytes, inlineBytes);
        }
        finally
        {
            // Disposing the listener alone leaves the instruments enabled on .NET 8.
            enabled.ForEach(instrument => listener.DisableMeasurementEvents(instrument));
        }
    }

    [Fact]
    public void Start_NoListener_ReadsNoClock()
    {
        var clock = new CountingTimeProvider();
        var metrics = new CircuitStoreMetrics(_store, clock);

        Assert.Equal(CircuitStoreMetrics.NotMeasured, metrics.Start());
        Assert.Equal(0, clock.Reads);
    }

    [Fact]
    public async Task Observe_CallerCancelsPendingRequest_RecordsNothing()
    {
        using var failures = Collect<long>(FailuresName);
        using var durations = Collect<double>(DurationName);
        using var cancellation = new CancellationTokenSource();
        var metrics = new CircuitStoreMetrics(_store, _time);
        var pending = new TaskCompletionSource<bool>();

        var observed = metrics.Observe(CircuitStateStoreOperation.Write, metrics.Start(), new ValueTask<bool>(pending.Task), cancellation.Token);
        await cancellation.CancelAsync();
        pending.SetCanceled(cancellation.Token);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await observed);
        Assert.Empty(Ours(failures));
        Assert.Empty(Ours(durations));
    }

    [Fact]
    public async Task Observe_PendingRequestFailsLater_RecordsWhenItEndsAndRethrows()
    {
        using var failures = Collect<long>(FailuresName);
        using var durations = Collect<double>(DurationName);
        var metrics = new CircuitStoreMetrics(_store, _time);
        var pending = new TaskCompletionSource<CircuitWriteResult>();
        var error = new CircuitStateStoreException("slow down") { Kind = CircuitStateStoreFailureKind.Throttled };

        var observed = metrics.Observe(CircuitStateStoreOperation.ClaimProbe, metrics.Start(), new ValueTask<CircuitWriteResult>(pending.Task), CancellationToken.None);
        _time.Advance(TimeSpan.FromMilliseconds(250));
        Assert.Empty(Ours(durations));
        pending.SetException(error);

        Assert.Same(error, await Assert.ThrowsAsync<CircuitStateStoreException>(async () => await observed));
        var duration = Assert.Single(Ours(durations));
        Assert.Equal(250, duration.Value);
        Assert.Equal("claim_probe", duration.Tags["store.operation"]);
        Assert.Equal("throttled", Assert.Single(Ours(failures)).Tags["error.type"]);
    }

    private const int Calls = 1_000;

    private static long AllocatedBy(ResiliencePipeline pipeline)
    {
        for (var i = 0; i < 200; i++)
        {
            _ = pipeline.ExecuteAsync(Healthy).Result;
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < Calls; i++)
        {
            var call = pipeline.ExecuteAsync(Healthy);
            Assert.True(call.IsCompletedSuccessfully);
        }

        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    private static ResiliencePipeline BuildOnSystemClock(TimeSpan cacheTtl) => new ResiliencePipelineBuilder()
        .AddDistributedCircuitBreaker(new DistributedCircuitBreakerStrategyOptions
        {
            CircuitId = NewCircuitId(),
            StateStore = new InMemoryCircuitStateStore(),
            CacheTtl = cacheTtl,
        })
        .Build();

    private static string NewCircuitId() => "metrics-" + Guid.NewGuid().ToString("N");

    private static InstrumentRecorder<T> Collect<T>(string instrument)
        where T : struct => new(instrument);

    private static List<RecordedMeasurement<T>> Ours<T>(InstrumentRecorder<T> recorder)
        where T : struct =>
        [.. recorder.Measurements.Where(m => Equals(m.Tags["store.type"], nameof(ScriptedStore)))];

    private ResiliencePipeline Build(Action<DistributedCircuitBreakerStrategyOptions>? configure = null)
    {
        var options = new DistributedCircuitBreakerStrategyOptions { CircuitId = NewCircuitId(), StateStore = _store };
        configure?.Invoke(options);
        return new ResiliencePipelineBuilder { TimeProvider = _time }.AddDistributedCircuitBreaker(options).Build();
    }

    private sealed class CountingTimeProvider : TimeProvider
    {
        private int _reads;

        public int Reads => Volatile.Read(ref _reads);

        public override long GetTimestamp()
        {
            Interlocked.Increment(ref _reads);
            return base.GetTimestamp();
        }

        public override DateTimeOffset GetUtcNow()
        {
            Interlocked.Increment(ref _reads);
            return base.GetUtcNow();
        }
    }
}
