using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Polly.CircuitBreaker;

namespace Polly.Distributed.CircuitBreaker.Tests.Controller;

/// <summary>A protected call spends at most StoreTimeout waiting for the store, however the store behaves.</summary>
public sealed class CircuitStoreGatewayTests
{
    private readonly InMemoryCircuitStateStore _shared = new();

    [Fact]
    public async Task Execute_StoreBlocksCallingThread_CallBoundedByStoreTimeout()
    {
        var store = new MisbehavingStore(_shared) { BlockThreadFor = TimeSpan.FromSeconds(5) };
        var pipeline = Build(store, TimeSpan.FromMilliseconds(200));

        var watch = Stopwatch.StartNew();
        var result = await pipeline.ExecuteAsync(_ => new ValueTask<string>("own result"));

        Assert.Equal("own result", result);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(3), $"took {watch.Elapsed}");
    }

    [Fact]
    public async Task Execute_CallerCancelsWhileStoreStalls_EndsAtOnce()
    {
        var store = new MisbehavingStore(_shared) { DelayIgnoringToken = TimeSpan.FromSeconds(30) };
        var pipeline = Build(store, TimeSpan.FromSeconds(20));
        using var cancellation = new CancellationTokenSource(TimeSpan.FromMilliseconds(50));
        var called = false;

        var watch = Stopwatch.StartNew();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await pipeline.ExecuteAsync(
            _ =>
            {
                called = true;
                return default;
            },
            cancellation.Token));

        // The store would answer in 30 s and the budget is 20 s: only the caller's token can end the call this soon.
        Assert.False(called);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(3), $"took {watch.Elapsed}");
    }

    [Fact]
    public async Task Execute_SlowStoreOnFailingCall_CheckAndRecordShareOneBudget()
    {
        var store = new InterceptingStore(_shared) { ReadDelay = TimeSpan.FromMilliseconds(200), ConditionalDelay = TimeSpan.FromMilliseconds(2_900) };
        var failures = new List<(CircuitStateStoreOperation Operation, Exception Error)>();
        var pipeline = Build(store, TimeSpan.FromSeconds(3), failures);

        await Assert.ThrowsAsync<HttpRequestException>(async () => await pipeline.ExecuteAsync(_ => throw new HttpRequestException("down")));

        // The check took 200 ms of the 3 s budget (under an eighth: no sign of pressure, so the count is sent at once): the
        // failure's count gets what is left and times out; with the full 3 s it would have been answered (2.9 s) and no
        // failure reported.
        var failure = Assert.Single(failures);
        Assert.Equal(CircuitStateStoreOperation.CountFailure, failure.Operation);
        Assert.IsType<TimeoutException>(failure.Error);
    }

    [Fact]
    public async Task Execute_ReadOutlastsTheCallsBudget_StaysInFlightAndItsLateAnswerDecidesTheNextCall()
    {
        var circuitId = "late-read-" + Guid.NewGuid().ToString("N");
        var now = TimeProvider.System.GetUtcNow().ToUnixTimeMilliseconds();
        await _shared.WriteAsync(circuitId, new CircuitSnapshot { State = StoredCircuitState.Open, FailureCount = 5, NextAttemptUnixMs = now + 60_000, StateTimestampUnixMs = now }, CancellationToken.None);
        var store = new InterceptingStore(_shared) { ReadDelay = TimeSpan.FromMilliseconds(400), ReadDelayHonoursCancellation = true };
        var counting = new TestKit.CountingCircuitStateStore(store);
        var pipeline = new ResiliencePipelineBuilder()
            .AddDistributedCircuitBreaker(new DistributedCircuitBreakerStrategyOptions
            {
                CircuitId = circuitId,
                StateStore = counting,
                Consistency = CircuitConsistency.Atomic,
                StoreTimeout = TimeSpan.FromMilliseconds(100),
            })
            .Build();

        // The read outlasts the call's budget: the call fails open, as it knows no state yet.
        var called = false;
        await pipeline.ExecuteAsync(_ =>
        {
            called = true;
            return default;
        });
        Assert.True(called);

        // The read was not stopped with the call: it ran to its answer (an HTTP store's server would serve it anyway), and
        // that answer, the OPEN, decides the next call with no second request.
        Assert.True(await store.FirstReadEnded.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        await Assert.ThrowsAsync<BrokenCircuitException>(async () => await pipeline.ExecuteAsync(_ => default));
        Assert.Equal(1, counting.Reads);
    }

    [Fact]
    public async Task Execute_ReadAnsweredSlowly_NextReadWaitsAtLeastAsLongAsThatAnswerTook()
    {
        // The read took 800 ms: the next waits at least that long (twice it, jittered by half), however often calls come.
        Assert.Equal(1, await ReadsWhileCallingAfterASlowReadAsync(TimeSpan.FromMilliseconds(800), TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(600)));
    }

    [Fact]
    public async Task Execute_ReadAnsweredInOverAnEighthOfTheStoreTimeout_NextReadsSpacedOut()
    {
        // 250 ms of a 1 s StoreTimeout: the store's requests queue, and reads are spaced by twice StoreTimeout (jittered
        // down to half of it at least), however often calls come. A faster answer would leave every call reading.
        Assert.Equal(1, await ReadsWhileCallingAfterASlowReadAsync(TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(1), TimeSpan.FromMilliseconds(500)));
    }

    [Fact]
    public async Task Execute_ReadNeverAnswered_StoppedAfterTheLongestReadIntervalThenReadAgain()
    {
        var store = new InterceptingStore(_shared) { ReadDelay = TimeSpan.FromHours(1), ReadDelayHonoursCancellation = true };
        var counting = new TestKit.CountingCircuitStateStore(store);
        var pipeline = Build(counting, TimeSpan.FromMilliseconds(100));

        // The longest read interval is a second here (the ceiling: four store timeouts, at least a second): the read is
        // stopped then, and a later check reads again instead of joining a read that will never answer.
        var watch = Stopwatch.StartNew();
        await pipeline.ExecuteAsync(_ => default);
        Assert.False(await store.FirstReadEnded.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.InRange(watch.Elapsed, TimeSpan.FromMilliseconds(900), TimeSpan.FromSeconds(9));
        await Eventually.TrueAsync(async () =>
        {
            await pipeline.ExecuteAsync(_ => default);
            return counting.Reads >= 2;
        });
    }

    [Fact]
    public async Task Execute_OpeningCountLandsAfterCallStoppedWaiting_RaisesOnOpenedOnce()
    {
        var store = new MisbehavingStore(_shared) { DelayIgnoringToken = TimeSpan.FromMilliseconds(400), OnlyCountsAreLate = true };
        var opened = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        var openedCount = 0;
        var pipeline = BuildOpeningAtFirstFailure(store, args =>
        {
            Interlocked.Increment(ref openedCount);
            opened.TrySetResult(args.IsManual);
            return default;
        });

        await Assert.ThrowsAsync<HttpRequestException>(async () => await pipeline.ExecuteAsync(_ => throw new HttpRequestException("down")));
        Assert.Equal(0, openedCount);

        Assert.False(await opened.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        await Assert.ThrowsAsync<Polly.CircuitBreaker.BrokenCircuitException>(async () => await pipeline.ExecuteAsync(_ => default));
        Assert.Equal(1, openedCount);
    }

    [Fact]
    public async Task Execute_OpeningCountLandsLateAndOnOpenedThrows_LogsTheCallbacksError()
    {
        var store = new MisbehavingStore(_shared) { DelayIgnoringToken = TimeSpan.FromMilliseconds(400), OnlyCountsAreLate = true };
        var logger = new FakeLogger();
        var raised = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var pipeline = BuildOpeningAtFirstFailure(
            store,
            _ =>
            {
                raised.TrySetResult();
                throw new InvalidOperationException("user callback failed");
            },
            logger);

        await Assert.ThrowsAsync<HttpRequestException>(async () => await pipeline.ExecuteAsync(_ => throw new HttpRequestException("down")));
        await raised.Task.WaitAsync(TimeSpan.FromSeconds(10));

        await Eventually.TrueAsync(() => logger.Collector.GetSnapshot().Any(r => r.Id.Name == "CircuitEventCallbackFailed"));
        var record = logger.Collector.GetSnapshot().Single(r => r.Id.Name == "CircuitEventCallbackFailed");
        Assert.Equal(LogLevel.Error, record.Level);
        Assert.Equal("user callback failed", record.Exception?.Message);
    }

    [Fact]
    public async Task Execute_StoreThrottlesReads_ReadsSpacedOutUntilTheIntervalEndsThenAgainWhenFast()
    {
        var (time, throttling, counting, pipeline) = ReadsFailingWithDefaults(CircuitStateStoreFailureKind.Throttled);

        for (var i = 0; i < 20; i++)
        {
            Assert.Equal(i, await pipeline.ExecuteAsync(_ => new ValueTask<int>(i)));
        }

        // Every call got its own result; only the first asked the item, the others acted on what was known.
        Assert.Equal(1, counting.Reads);

        // Past the longest interval (jitter included), the store is read again; once it answers fast, every call reads.
        throttling.ReadsFail = false;
        time.Advance(TimeSpan.FromSeconds(3));
        await pipeline.ExecuteAsync(_ => default);
        Assert.Equal(2, counting.Reads);
        for (var i = 0; i < 10; i++)
        {
            time.Advance(TimeSpan.FromSeconds(1));
            await pipeline.ExecuteAsync(_ => default);
        }

        Assert.Equal(12, counting.Reads);
    }

    [Fact]
    public async Task Execute_StoreReportsATimeout_NextReadWaitsAtLeastTheStoreTimeout()
    {
        var (time, timingOut, counting, pipeline) = ReadsFailingWithDefaults(CircuitStateStoreFailureKind.Timeout);
        await pipeline.ExecuteAsync(_ => default);
        timingOut.ReadsFail = false;

        // One timeout spaces reads by twice the StoreTimeout of 500 ms (jittered down to half of it at least) at once: a
        // call every 10 ms for 490 ms reads nothing. A throttling refusal would space them by 100 ms at first.
        for (var i = 0; i < 49; i++)
        {
            time.Advance(TimeSpan.FromMilliseconds(10));
            await pipeline.ExecuteAsync(_ => default);
        }

        Assert.Equal(1, counting.Reads);
    }

    [Fact]
    public async Task Execute_FastAnswersAfterThrottling_ReadIntervalShortensSlowly()
    {
        var (time, throttling, counting, pipeline) = await ThrottledAtTheCeilingAsync(readDelay: TimeSpan.FromMilliseconds(1));

        throttling.ReadsFail = false;
        for (var i = 0; i < 10; i++)
        {
            time.Advance(TimeSpan.FromMilliseconds(1_300));
            await pipeline.ExecuteAsync(_ => default);
        }

        // Ten fast answers leave the interval near its ceiling of 1 s (jittered down to half of it at least): a call 400 ms
        // after the last read is answered from memory, so a fleet at its item's limit does not come straight back to it.
        var reads = counting.Reads;
        time.Advance(TimeSpan.FromMilliseconds(400));
        await pipeline.ExecuteAsync(_ => default);
        Assert.Equal(reads, counting.Reads);
    }

    [Fact]
    public async Task Execute_BusyProcessUnderPressure_ReadIntervalJitteredPerRead()
    {
        var (time, throttling, counting, pipeline) = await ThrottledAtTheCeilingAsync(readDelay: TimeSpan.FromMilliseconds(1));
        throttling.ReadsFail = false;
        var gaps = await ReadGapsAsync(time, counting, pipeline, steps: 3_000, TimeSpan.FromMilliseconds(10));

        // A call every 10 ms checks the cache a hundred times per interval: a jitter drawn per check would make every gap
        // the shortest one allowed, and a fleet that was throttled together would read in step for ever.
        gaps.RemoveAt(0);
        Assert.True(gaps.Count >= 8, $"{gaps.Count} reads");
        Assert.True(gaps.Min() < 750 && gaps.Max() > 850, string.Join(", ", gaps));
    }

    [Fact]
    public async Task Execute_ThrottlingOutlastsIntervalsAtTheCeiling_IntervalStretchesToTheSustainedCeiling()
    {
        var (time, _, counting, pipeline) = Throttled(readDelay: TimeSpan.Zero, maxBreak: TimeSpan.FromSeconds(4));

        // A call every 100 ms for a minute, every read throttled: the gaps between reads grow past the ceiling of 1 s
        // (four store timeouts, at most the break) and stop at the sustained ceiling of 4 s (the longest break).
        var gaps = await ReadGapsAsync(time, counting, pipeline, steps: 600, TimeSpan.FromMilliseconds(100));

        // Jittered between half and one and a half times the interval, never past the sustained ceiling: at the plain
        // ceiling no gap would pass 1.5 s.
        var late = gaps.Skip(gaps.Count / 2).ToList();
        Assert.True(late.Min() >= 1_900 && late.Max() > 3_000 && late.Max() <= 4_100, string.Join(", ", gaps));
    }

    [Fact]
    public async Task Execute_FastAnswersBetweenThrottledOnesAtTheCeiling_IntervalStillStretchesPastTheCeiling()
    {
        var (time, throttling, counting, pipeline) = Throttled(readDelay: TimeSpan.FromMilliseconds(1), maxBreak: TimeSpan.FromSeconds(4));
        // Five refusals: 100, 200, 400 and 800 ms, then the ceiling of 1 s.
        for (var i = 0; i < 5; i++)
        {
            time.Advance(TimeSpan.FromMilliseconds(1_300));
            await pipeline.ExecuteAsync(_ => default);
        }

        // At the ceiling, reads alternate, a fast answer first: each fast answer shortens the interval a little, and
        // the refusal after it must still stretch it past the ceiling, toward the sustained ceiling of 4 s.
        throttling.ReadsFail = false;
        var gaps = await ReadGapsAsync(time, counting, pipeline, steps: 600, TimeSpan.FromMilliseconds(100), afterRead: () => throttling.ReadsFail = !throttling.ReadsFail);

        Assert.True(gaps.Skip(gaps.Count / 2).Max() > 2_000, string.Join(", ", gaps));
    }

    [Fact]
    public async Task Execute_FleetBreakEndsWhileStoreThrottles_ProbesLocallyOnlyAfterTheLongestReadIntervalAndAStoreTimeout()
    {
        var circuitId = "ceiling-" + Guid.NewGuid().ToString("N");
        var (time, throttling, _, pipeline) = await ThrottledAtTheCeilingAsync(readDelay: TimeSpan.FromMilliseconds(1), circuitId);
        var nextAttempt = time.GetUtcNow().ToUnixTimeMilliseconds() + 3_000;
        await _shared.WriteAsync(circuitId, new CircuitSnapshot { State = StoredCircuitState.Open, FailureCount = 5, NextAttemptUnixMs = nextAttempt, StateTimestampUnixMs = nextAttempt - 1_000 }, CancellationToken.None);
        throttling.ReadsFail = false;
        time.Advance(TimeSpan.FromMilliseconds(1_600));
        await Assert.ThrowsAsync<BrokenCircuitException>(async () => await pipeline.ExecuteAsync(_ => default));
        throttling.ReadsFail = true;

        // The read interval is at its ceiling of 1 s, which the longest break keeps it from passing: with a store timeout of
        // 250 ms, the store may take 1.25 s to answer this process once, and this process waits that long past the break
        // before it probes itself.
        time.SetUtcNow(DateTimeOffset.FromUnixTimeMilliseconds(nextAttempt + 1_249));
        await Assert.ThrowsAsync<BrokenCircuitException>(async () => await pipeline.ExecuteAsync(_ => default));
        time.SetUtcNow(DateTimeOffset.FromUnixTimeMilliseconds(nextAttempt + 1_250));
        Assert.Equal(1, await pipeline.ExecuteAsync(_ => new ValueTask<int>(1)));
    }

    [Fact]
    public async Task Execute_FleetBreakEndsWhileStoreThrottles_WaitsTheSustainedCeilingAndAStoreTimeoutBeforeProbingLocally()
    {
        var (time, throttling, nextAttempt, pipeline) = await OpenLearnedBetweenRefusalsAsync(CircuitStateStoreFailureKind.Throttled);

        // The store throttles: it answers the rest of the fleet, whose reads may be spread over the sustained ceiling (the
        // longest break, 8 s), and this process waits that long and a store timeout past the break before it probes itself,
        // though its own interval is at 1 s.
        time.SetUtcNow(DateTimeOffset.FromUnixTimeMilliseconds(nextAttempt + 8_249));
        await Assert.ThrowsAsync<BrokenCircuitException>(async () => await pipeline.ExecuteAsync(_ => default));
        time.SetUtcNow(DateTimeOffset.FromUnixTimeMilliseconds(nextAttempt + 8_250));
        Assert.Equal(1, await pipeline.ExecuteAsync(_ => new ValueTask<int>(1)));
        Assert.True(throttling.ReadsFail);
    }

    [Fact]
    public async Task Execute_FleetBreakEndsWhileStoreTimesOut_ProbesLocallyAfterItsOwnIntervalAndAStoreTimeout()
    {
        var (time, timingOut, nextAttempt, pipeline) = await OpenLearnedBetweenRefusalsAsync(CircuitStateStoreFailureKind.Timeout);

        // A timeout says less than a throttling error (the store may be down): the wait past the break stays at this
        // process's longest interval (1 s) and a store timeout.
        time.SetUtcNow(DateTimeOffset.FromUnixTimeMilliseconds(nextAttempt + 1_300));
        Assert.Equal(1, await pipeline.ExecuteAsync(_ => new ValueTask<int>(1)));
        Assert.True(timingOut.ReadsFail);
    }

    [Fact]
    public async Task Execute_FailureReadOpenUnderPressure_NextReadWaitsAnIntervalFromThatReadWhenTheBreakEnds()
    {
        var circuitId = "record-read-" + Guid.NewGuid().ToString("N");
        var (time, throttling, counting, pipeline) = Throttled(TimeSpan.Zero, maxBreak: TimeSpan.FromSeconds(1), circuitId, cacheTtl: TimeSpan.FromSeconds(10));
        await RefuseReadsAsync(time, pipeline, refusals: 6);
        throttling.ReadsFail = false;
        time.Advance(TimeSpan.FromMilliseconds(1_600));
        await pipeline.ExecuteAsync(_ => default);

        // Past the longest read interval, a failure decided on the cached CLOSED: recording it reads the OPEN another
        // environment wrote, whose break ends 400 ms later.
        var now = time.GetUtcNow().ToUnixTimeMilliseconds() + 1_600;
        await _shared.WriteAsync(circuitId, new CircuitSnapshot { State = StoredCircuitState.Open, FailureCount = 5, NextAttemptUnixMs = now + 400, StateTimestampUnixMs = now - 1_000 }, CancellationToken.None);
        time.Advance(TimeSpan.FromMilliseconds(1_600));
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await pipeline.ExecuteAsync(_ => throw new InvalidOperationException("down")));
        var reads = counting.Reads;

        // The break has ended: the next read still waits an interval (half the ceiling of 1 s at least) from the failure's
        // read, not from the last read of a check: a fleet that learned the OPEN together does not come back together.
        time.Advance(TimeSpan.FromMilliseconds(450));
        await Assert.ThrowsAsync<BrokenCircuitException>(async () => await pipeline.ExecuteAsync(_ => default));
        Assert.Equal(reads, counting.Reads);
        time.Advance(TimeSpan.FromMilliseconds(1_150));
        await pipeline.ExecuteAsync(_ => default);
        Assert.True(counting.Reads > reads);
    }

    [Fact]
    public async Task Execute_OpenLearnedWithReadsStretchedPastAQuarterOfTheCeiling_ReadsAtTheCeilingWhileTheBreakRuns()
    {
        // Three refusals stretch the interval to 400 ms, past a quarter of the ceiling of 1 s: reads 200 to 600 ms apart
        // (400 on average) would follow; at the ceiling they come 500 to 1,000 ms apart (the longest break keeps the
        // jittered interval from passing 1 s), about 850 ms on average.
        var gaps = await ReadGapsWhileOpenAsync(refusals: 3);

        Assert.True(gaps.Count >= 10 && gaps.Average() > 650, string.Join(", ", gaps));
    }

    [Fact]
    public async Task Execute_OpenLearnedWithReadsStretchedLessThanAQuarterOfTheCeiling_KeepsItsInterval()
    {
        // Two refusals stretch the interval to 200 ms only: a fleet that small fits its item without the ceiling.
        var gaps = await ReadGapsWhileOpenAsync(refusals: 2);

        Assert.True(gaps.Count >= 40 && gaps.Average() < 400, string.Join(", ", gaps));
    }

    [Fact]
    public async Task Execute_StoreAnsweringInlineAfterThrottling_ReadIntervalShortensToNothing()
    {
        var (time, throttling, counting, pipeline) = await ThrottledAtTheCeilingAsync(readDelay: TimeSpan.Zero);

        throttling.ReadsFail = false;
        for (var i = 0; i < 600; i++)
        {
            time.Advance(TimeSpan.FromMilliseconds(1_300));
            await pipeline.ExecuteAsync(_ => default);
        }

        var reads = counting.Reads;
        time.Advance(TimeSpan.FromMilliseconds(10));
        await pipeline.ExecuteAsync(_ => default);
        Assert.Equal(reads + 1, counting.Reads);
    }

    [Fact]
    public async Task Execute_CachedReadOfAStoreThatNeverAnswersInTime_LeavesNoUnobservedTaskException()
    {
        var marker = "never-observed-" + Guid.NewGuid().ToString("N");
        var unobserved = 0;
        void OnUnobserved(object? sender, UnobservedTaskExceptionEventArgs e)
        {
            var error = e.Exception.ToString();
            if (error.Contains(marker, StringComparison.Ordinal) || error.Contains("within 30 ms", StringComparison.Ordinal))
            {
                Interlocked.Increment(ref unobserved);
            }
        }

        TaskScheduler.UnobservedTaskException += OnUnobserved;
        try
        {
            await CallsWhileReadsFailLateAsync(new InterceptingStore(_shared) { ReadDelay = TimeSpan.FromMilliseconds(150), ReadsFail = true, FailureMessage = marker });
            for (var i = 0; i < 3; i++)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
                await Task.Delay(50);
            }
        }
        finally
        {
            TaskScheduler.UnobservedTaskException -= OnUnobserved;
        }

        Assert.Equal(0, unobserved);
    }

    [Fact]
    public async Task Execute_WallClockSteppedBackwards_CacheFreshnessStillEndsAfterCacheTtl()
    {
        var clock = new SteppedClock(DateTimeOffset.FromUnixTimeMilliseconds(1_750_000_000_000));
        var store = new TestKit.CountingCircuitStateStore(_shared);
        var pipeline = new ResiliencePipelineBuilder { TimeProvider = clock }
            .AddDistributedCircuitBreaker(new DistributedCircuitBreakerStrategyOptions
            {
                CircuitId = "stepped-" + Guid.NewGuid().ToString("N"),
                StateStore = store,
                CacheTtl = TimeSpan.FromSeconds(1),
            })
            .Build();
        await pipeline.ExecuteAsync(_ => default);
        Assert.Equal(1, store.Reads);

        // An hour's correction of the wall clock backwards, while 1.5 s pass: the cached entry is stale all the same.
        clock.Step(wall: TimeSpan.FromHours(-1), monotonic: TimeSpan.FromMilliseconds(1_500));
        await pipeline.ExecuteAsync(_ => default);

        Assert.Equal(2, store.Reads);
    }

    private static ResiliencePipeline BuildOpeningAtFirstFailure(ICircuitStateStore store, Func<Polly.CircuitBreaker.OnCircuitOpenedArguments<object>, ValueTask> onOpened, ILogger? logger = null) =>
        new ResiliencePipelineBuilder()
            .AddDistributedCircuitBreaker(new DistributedCircuitBreakerStrategyOptions
            {
                CircuitId = "late-" + Guid.NewGuid().ToString("N"),
                StateStore = store,
                Consistency = CircuitConsistency.Atomic,
                FailureThreshold = 1,
                StoreTimeout = TimeSpan.FromMilliseconds(100),
                Logger = logger,
                OnOpened = onOpened,
            })
            .Build();

    private static ResiliencePipeline Build(ICircuitStateStore store, TimeSpan storeTimeout, List<(CircuitStateStoreOperation Operation, Exception Error)>? failures = null)
    {
        var reported = failures ?? [];
        return
        new ResiliencePipelineBuilder()
            .AddDistributedCircuitBreaker(new DistributedCircuitBreakerStrategyOptions
            {
                CircuitId = "budget-" + Guid.NewGuid().ToString("N"),
                StateStore = store,
                Consistency = CircuitConsistency.Atomic,
                StoreTimeout = storeTimeout,
                OnStateStoreFailure = args =>
                {
                    lock (reported)
                    {
                        reported.Add((args.Operation, args.Exception));
                    }

                    return default;
                },
            })
            .Build();
    }

    /// <summary>Answers correctly, but late: by blocking the calling thread, or by a delay that ignores cancellation.</summary>
    private sealed class MisbehavingStore(ICircuitStateStore inner) : ICircuitStateStore
    {
        public TimeSpan BlockThreadFor { get; init; }

        public TimeSpan DelayIgnoringToken { get; init; }

        public bool OnlyCountsAreLate { get; init; }

        public ValueTask<StoredCircuit> ReadAsync(string circuitId, CancellationToken cancellationToken) =>
            OnlyCountsAreLate ? inner.ReadAsync(circuitId, cancellationToken) : LateAsync(() => inner.ReadAsync(circuitId, cancellationToken));

        public ValueTask<bool> WriteAsync(string circuitId, CircuitSnapshot snapshot, CancellationToken cancellationToken) =>
            LateAsync(() => inner.WriteAsync(circuitId, snapshot, cancellationToken));

        public ValueTask<CircuitWriteResult> TryReplaceAsync(string circuitId, StoredCircuit expected, CircuitSnapshot replacement, CancellationToken cancellationToken) =>
            LateAsync(() => inner.TryReplaceAsync(circuitId, expected, replacement, cancellationToken));

        public ValueTask<CircuitWriteResult> TryClaimProbeAsync(string circuitId, string owner, long leaseExpiresUnixMs, long nowUnixMs, CancellationToken cancellationToken) =>
            LateAsync(() => inner.TryClaimProbeAsync(circuitId, owner, leaseExpiresUnixMs, nowUnixMs, cancellationToken));

        public ValueTask<CircuitIncrementResult> TryIncrementFailureAsync(string circuitId, CircuitFailureIncrement increment, CancellationToken cancellationToken) =>
            LateAsync(() => inner.TryIncrementFailureAsync(circuitId, increment, CancellationToken.None));

        private ValueTask<T> LateAsync<T>(Func<ValueTask<T>> answer)
        {
            if (BlockThreadFor > TimeSpan.Zero)
            {
                Thread.Sleep(BlockThreadFor);
                return answer();
            }

            return DelayedAsync();

            async ValueTask<T> DelayedAsync()
            {
                await Task.Delay(DelayIgnoringToken, CancellationToken.None);
                return await answer();
            }
        }
    }

    private static async Task CallsWhileReadsFailLateAsync(ICircuitStateStore store)
    {
        var pipeline = new ResiliencePipelineBuilder()
            .AddDistributedCircuitBreaker(new DistributedCircuitBreakerStrategyOptions
            {
                CircuitId = "unobserved-" + Guid.NewGuid().ToString("N"),
                StateStore = store,
                CacheTtl = TimeSpan.FromSeconds(1),
                StoreTimeout = TimeSpan.FromMilliseconds(30),
            })
            .Build();
        for (var round = 0; round < 3; round++)
        {
            await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => pipeline.ExecuteAsync(_ => default).AsTask()));
            await Task.Delay(200);
        }
    }

    /// <summary>A clock whose wall time and monotonic time a test moves separately, as an NTP correction does.</summary>
    private sealed class SteppedClock(DateTimeOffset start) : TimeProvider
    {
        private DateTimeOffset _wall = start;
        private long _monotonicTicks;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public void Step(TimeSpan wall, TimeSpan monotonic)
        {
            _wall += wall;
            _monotonicTicks += monotonic.Ticks;
        }

        public override DateTimeOffset GetUtcNow() => _wall;

        public override long GetTimestamp() => _monotonicTicks;
    }
    // Reads throttled until the read interval reaches its ceiling: 1 s (four store timeouts of 250 ms, at least a second),
    // which the longest break of 1 s keeps from stretching further under sustained pressure.
    private async Task<(Microsoft.Extensions.Time.Testing.FakeTimeProvider Time, InterceptingStore Throttling, TestKit.CountingCircuitStateStore Counting, ResiliencePipeline Pipeline)> ThrottledAtTheCeilingAsync(TimeSpan readDelay, string? circuitId = null)
    {
        var (time, throttling, counting, pipeline) = Throttled(readDelay, maxBreak: TimeSpan.FromSeconds(1), circuitId);
        for (var i = 0; i < 6; i++)
        {
            time.Advance(TimeSpan.FromMilliseconds(1_300));
            await pipeline.ExecuteAsync(_ => default);
        }

        return (time, throttling, counting, pipeline);
    }

    // A breaker (store timeout 250 ms, break 1 s, so a read interval ceiling of 1 s) whose reads the store refuses as throttled.
    // Default options on a fake clock, over a store whose reads fail (for now) the way given.
    private (Microsoft.Extensions.Time.Testing.FakeTimeProvider Time, InterceptingStore Store, TestKit.CountingCircuitStateStore Counting, ResiliencePipeline Pipeline) ReadsFailingWithDefaults(CircuitStateStoreFailureKind kind)
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(1_750_000_000_000));
        var store = new InterceptingStore(_shared) { ReadsFail = true, ReadFailureKind = kind };
        var counting = new TestKit.CountingCircuitStateStore(store);
        var pipeline = new ResiliencePipelineBuilder { TimeProvider = time }
            .AddDistributedCircuitBreaker(new DistributedCircuitBreakerStrategyOptions
            {
                CircuitId = "reads-failing-" + Guid.NewGuid().ToString("N"),
                StateStore = counting,
            })
            .Build();
        return (time, store, counting, pipeline);
    }

    private (Microsoft.Extensions.Time.Testing.FakeTimeProvider Time, InterceptingStore Throttling, TestKit.CountingCircuitStateStore Counting, ResiliencePipeline Pipeline) Throttled(
        TimeSpan readDelay,
        TimeSpan maxBreak,
        string? circuitId = null,
        CircuitConsistency consistency = CircuitConsistency.LastWriterWins,
        TimeSpan cacheTtl = default)
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(1_750_000_000_000));
        var throttling = new InterceptingStore(_shared) { ReadsFail = true, ReadFailureKind = CircuitStateStoreFailureKind.Throttled, ReadDelay = readDelay };
        var counting = new TestKit.CountingCircuitStateStore(throttling);
        var pipeline = new ResiliencePipelineBuilder { TimeProvider = time }
            .AddDistributedCircuitBreaker(new DistributedCircuitBreakerStrategyOptions
            {
                CircuitId = circuitId ?? "throttled-" + Guid.NewGuid().ToString("N"),
                StateStore = counting,
                StoreTimeout = TimeSpan.FromMilliseconds(250),
                BreakDuration = TimeSpan.FromSeconds(1),
                MaxBreakDuration = maxBreak,
                Consistency = consistency,
                CacheTtl = cacheTtl,
            })
            .Build();
        return (time, throttling, counting, pipeline);
    }

    // One read answered after readDelay, then calls every 10 ms for callingFor with reads answered at once: the reads made in all.
    private async Task<int> ReadsWhileCallingAfterASlowReadAsync(TimeSpan readDelay, TimeSpan storeTimeout, TimeSpan callingFor)
    {
        var store = new InterceptingStore(_shared) { ReadDelay = readDelay };
        var counting = new TestKit.CountingCircuitStateStore(store);
        var pipeline = Build(counting, storeTimeout);

        await pipeline.ExecuteAsync(_ => default);
        Assert.True(await store.FirstReadEnded.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        store.ReadDelay = TimeSpan.Zero;
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < callingFor)
        {
            await pipeline.ExecuteAsync(_ => default);
            await Task.Delay(10);
        }

        return counting.Reads;
    }

    // A breaker whose longest break (8 s) lets its interval stretch past the 1 s ceiling: one read throttled, then an OPEN
    // read, then every read refused the way given.
    private async Task<(Microsoft.Extensions.Time.Testing.FakeTimeProvider Time, InterceptingStore Store, long NextAttempt, ResiliencePipeline Pipeline)> OpenLearnedBetweenRefusalsAsync(CircuitStateStoreFailureKind refusal)
    {
        var circuitId = "refused-after-open-" + Guid.NewGuid().ToString("N");
        var (time, store, _, pipeline) = Throttled(readDelay: TimeSpan.Zero, maxBreak: TimeSpan.FromSeconds(8), circuitId);
        await RefuseReadsAsync(time, pipeline, refusals: 1);
        var nextAttempt = time.GetUtcNow().ToUnixTimeMilliseconds() + 3_000;
        await _shared.WriteAsync(circuitId, new CircuitSnapshot { State = StoredCircuitState.Open, FailureCount = 5, NextAttemptUnixMs = nextAttempt, StateTimestampUnixMs = nextAttempt - 1_000 }, CancellationToken.None);
        store.ReadsFail = false;
        time.Advance(TimeSpan.FromMilliseconds(1_600));
        await Assert.ThrowsAsync<BrokenCircuitException>(async () => await pipeline.ExecuteAsync(_ => default));
        store.ReadsFail = true;
        store.ReadFailureKind = refusal;
        return (time, store, nextAttempt, pipeline);
    }

    // Calls 1.6 s apart (past the longest interval, so each call reads) while every read is refused.
    private static async Task RefuseReadsAsync(Microsoft.Extensions.Time.Testing.FakeTimeProvider time, ResiliencePipeline pipeline, int refusals)
    {
        for (var i = 0; i < refusals; i++)
        {
            time.Advance(TimeSpan.FromMilliseconds(1_600));
            await pipeline.ExecuteAsync(_ => default);
        }
    }

    // Reads refused as often as asked, then an OPEN whose break lasts a minute is stored and reads are answered: the
    // gaps between reads over 20 s of calls every 10 ms.
    private async Task<List<double>> ReadGapsWhileOpenAsync(int refusals)
    {
        var circuitId = "open-under-pressure-" + Guid.NewGuid().ToString("N");
        var (time, throttling, counting, pipeline) = Throttled(TimeSpan.Zero, maxBreak: TimeSpan.FromSeconds(1), circuitId);
        await RefuseReadsAsync(time, pipeline, refusals);
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        await _shared.WriteAsync(circuitId, new CircuitSnapshot { State = StoredCircuitState.Open, FailureCount = 5, NextAttemptUnixMs = now + 60_000, StateTimestampUnixMs = now }, CancellationToken.None);
        throttling.ReadsFail = false;
        time.Advance(TimeSpan.FromMilliseconds(1_600));
        return await ReadGapsAsync(time, counting, pipeline, steps: 2_000, TimeSpan.FromMilliseconds(10));
    }

    // Calls once per step and returns the gaps between the calls that read the store; afterRead runs after each such read.
    private static async Task<List<double>> ReadGapsAsync(
        Microsoft.Extensions.Time.Testing.FakeTimeProvider time,
        TestKit.CountingCircuitStateStore counting,
        ResiliencePipeline pipeline,
        int steps,
        TimeSpan step,
        Action? afterRead = null)
    {
        var gaps = new List<double>();
        var lastRead = time.GetUtcNow();
        for (var i = 0; i < steps; i++)
        {
            time.Advance(step);
            var reads = counting.Reads;
            try
            {
                await pipeline.ExecuteAsync(_ => default);
            }
            catch (BrokenCircuitException)
            {
                // A rejected call checks the circuit like any other.
            }

            if (counting.Reads > reads)
            {
                gaps.Add((time.GetUtcNow() - lastRead).TotalMilliseconds);
                lastRead = time.GetUtcNow();
                afterRead?.Invoke();
            }
        }

        return gaps;
    }
}
