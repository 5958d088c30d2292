using Microsoft.Extensions.Time.Testing;
using Polly.CircuitBreaker;
using Polly.Distributed.CircuitBreaker.TestKit;

namespace Polly.Distributed.CircuitBreaker.Tests.Controller;

public class AtomicProtocolTests
{
    private const string CircuitId = "orders";
    private readonly InMemoryCircuitStateStore _shared = new();

    [Fact]
    public async Task Acquire_CallerCancelsWhileHalfOpenClaimIsInFlight_LeaseThatLandsIsGivenBack()
    {
        await OpenDueAsync();
        var store = new InterceptingStore(_shared) { ConditionalDelay = TimeSpan.FromMilliseconds(300) };
        var halfOpened = 0;
        var pipeline = Build(store, onHalfOpened: () => Interlocked.Increment(ref halfOpened));
        using var cancellation = new CancellationTokenSource();
        _ = store.ConditionalStarted.Task.ContinueWith(_ => cancellation.Cancel(), TaskScheduler.Default);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await pipeline.ExecuteAsync(_ => default, cancellation.Token));

        // The store applies the claim anyway (as Redis does): this process made the half-open transition, and gives the lease back.
        await store.ConditionalApplied.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await Eventually.TrueAsync(async () => (await ReadAsync()) is { State: StoredCircuitState.HalfOpen, ProbeLeaseOwner: null });
        await Eventually.TrueAsync(() => Volatile.Read(ref halfOpened) == 1);

        // Another environment probes now, not a whole lease later.
        var probed = false;
        await Build(new InterceptingStore(_shared)).ExecuteAsync(_ =>
        {
            probed = true;
            return default;
        });
        Assert.True(probed);
    }

    [Fact]
    public async Task Acquire_ClaimTimesOutThenLandsLate_LeaseIsGivenBackAndTheProcessProbesAgain()
    {
        await OpenDueAsync();
        var store = new InterceptingStore(_shared) { ConditionalDelay = TimeSpan.FromMilliseconds(300) };
        var pipeline = Build(store, storeTimeout: TimeSpan.FromMilliseconds(50));
        var calls = 0;

        await Assert.ThrowsAsync<BrokenCircuitException>(async () => await pipeline.ExecuteAsync(_ => new ValueTask<int>(++calls)));
        await store.ConditionalApplied.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await Eventually.TrueAsync(async () => (await ReadAsync()).ProbeLeaseOwner is null);

        Assert.Equal(0, calls);
        Assert.Equal(StoredCircuitState.HalfOpen, (await ReadAsync()).State);
    }

    [Fact]
    public async Task Acquire_ClaimLandsLateAndTheProcessCallsAgainWithinAStoreTimeout_ThatCallProbesOnTheLandedLease()
    {
        // The break is over on the breaker's clock, which starts after it and stands still until the test moves it.
        await OpenDueAsync();
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var intercepting = new InterceptingStore(_shared) { ConditionalDelay = TimeSpan.FromSeconds(2) };
        var counting = new CountingCircuitStateStore(intercepting);
        var pipeline = Build(counting, storeTimeout: TimeSpan.FromMilliseconds(200), successThreshold: 1, timeProvider: time);

        // The claim outlasts the call's budget on the breaker's clock; it lands and is answered 2 s later.
        var first = pipeline.ExecuteAsync(_ => default).AsTask();
        await intercepting.ConditionalStarted.Task.WaitAsync(TimeSpan.FromSeconds(10));
        while (!first.IsCompleted)
        {
            time.Advance(TimeSpan.FromMilliseconds(50));
            await Task.Delay(10);
        }

        await Assert.ThrowsAsync<BrokenCircuitException>(() => first);
        await intercepting.ConditionalApplied.Task.WaitAsync(TimeSpan.FromSeconds(10));

        // No time passes on the breaker's clock from here: the landed lease stays this process's, and its next call probes
        // on it. Given back at once, the lease would have cost a release and a second claim, each as late as the first.
        var probed = false;
        await Eventually.TrueAsync(async () =>
        {
            try
            {
                await pipeline.ExecuteAsync(_ =>
                {
                    probed = true;
                    return default;
                });
            }
            catch (BrokenCircuitException)
            {
            }

            return probed;
        });
        Assert.Equal(StoredCircuitState.Closed, (await ReadAsync()).State);
        // Two compare-and-sets in all: the claim (open to half-open with the lease) and the probe's success.
        Assert.Equal((2, 0), (counting.Replaces, counting.Claims));
    }

    [Fact]
    public async Task Execute_ProbeCancelledByItsCaller_ReturnsWithoutWaitingForTheLeaseRelease()
    {
        await OpenDueAsync();
        var store = new InterceptingStore(_shared);
        var pipeline = Build(store, storeTimeout: TimeSpan.FromSeconds(5));
        using var cancellation = new CancellationTokenSource();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await pipeline.ExecuteAsync(
            _ =>
            {
                // From now on the store answers slowly: the release must not hold the caller who gave up.
                store.ConditionalDelay = TimeSpan.FromMilliseconds(500);
                cancellation.Cancel();
                cancellation.Token.ThrowIfCancellationRequested();
                return default;
            },
            cancellation.Token));

        Assert.False(store.ConditionalApplied.Task.IsCompleted);
        await store.ConditionalApplied.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await Eventually.TrueAsync(async () => (await ReadAsync()).ProbeLeaseOwner is null);
    }

    [Fact]
    public async Task Record_ProbeOutcomeRefusedByAThrottledItem_WrittenAgainWithinAStoreTimeoutNotAWholeLease()
    {
        await OpenDueAsync();
        var store = new InterceptingStore(_shared);
        var pipeline = Build(store, storeTimeout: TimeSpan.FromMilliseconds(200));

        // The claim lands; the probe's success (the close, with SuccessThreshold 1) is refused twice, as by a throttled item.
        var closing = Build(store, storeTimeout: TimeSpan.FromMilliseconds(200), successThreshold: 1);
        await closing.ExecuteAsync(_ =>
        {
            store.ReplacesToRefuse = 2;
            return default;
        });

        // The lease is 30 s: the close lands within a few store timeouts all the same.
        await Eventually.TrueAsync(async () => (await ReadAsync()).State == StoredCircuitState.Closed);
        Assert.Equal(7, await pipeline.ExecuteAsync(_ => new ValueTask<int>(7)));
    }

    [Fact]
    public async Task Record_ManyConcurrentFailures_CoalescedIntoFewCountsAndNoneLost()
    {
        var counting = new TestKit.CountingCircuitStateStore(new InterceptingStore(_shared) { ConditionalDelay = TimeSpan.FromMilliseconds(200) });
        var pipeline = Build(counting, failureThreshold: 1_000);

        await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => Task.Run(async () =>
            await Assert.ThrowsAsync<HttpRequestException>(async () => await pipeline.ExecuteAsync<int>(_ => throw new HttpRequestException("down"))))));
        await Eventually.TrueAsync(async () => (await ReadAsync()).FailureCount == 50);

        // One count in flight at a time: the first failure's own, then one batch per round trip for those that came meanwhile.
        Assert.InRange(counting.Increments, 2, 10);
    }

    [Fact]
    public async Task Acquire_CallWhileThisProcessCountsAFailure_DecidedOnTheCountsAnswer()
    {
        var intercepting = new InterceptingStore(_shared) { ConditionalDelay = TimeSpan.FromMilliseconds(300) };
        var pipeline = Build(intercepting, failureThreshold: 1);
        var calls = 0;
        var failing = pipeline.ExecuteAsync<int>(_ =>
        {
            Interlocked.Increment(ref calls);
            throw new HttpRequestException("down");
        }).AsTask();
        await intercepting.ConditionalStarted.Task.WaitAsync(TimeSpan.FromSeconds(10));

        // The item still says CLOSED, but this process's count of the failure is about to open it: the next call waits for
        // that answer instead of reaching the dependency.
        await Assert.ThrowsAsync<BrokenCircuitException>(async () => await pipeline.ExecuteAsync(_ =>
        {
            Interlocked.Increment(ref calls);
            return default;
        }));
        await Assert.ThrowsAsync<HttpRequestException>(() => failing);
        Assert.Equal(1, calls);
    }

    [Fact]
    public async Task Acquire_CountStillRunningAfterItsCallGaveUp_NextCallNotHeldForIt()
    {
        var time = new FakeTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(1_750_000_000_000));
        var intercepting = new InterceptingStore(_shared) { ConditionalDelay = TimeSpan.FromSeconds(30) };
        var pipeline = Build(intercepting, failureThreshold: 1_000, storeTimeout: TimeSpan.FromMilliseconds(100), timeProvider: time);
        var failing = pipeline.ExecuteAsync<int>(_ => throw new HttpRequestException("down")).AsTask();
        await intercepting.ConditionalStarted.Task.WaitAsync(TimeSpan.FromSeconds(10));
        for (var step = 0; step < 100 && !failing.IsCompleted; step++)
        {
            time.Advance(TimeSpan.FromMilliseconds(100));
            await Task.Delay(10);
        }

        await Assert.ThrowsAsync<HttpRequestException>(() => failing);

        // The count still runs, but its call gave up on it: a store that slow is not waited for again by the next call,
        // which would otherwise wait until the clock (which no longer moves) ran out its store time.
        var next = pipeline.ExecuteAsync(_ => new ValueTask<int>(7)).AsTask();
        Assert.Same(next, await Task.WhenAny(next, Task.Delay(TimeSpan.FromSeconds(5))));
        Assert.Equal(7, await next);
    }

    [Fact]
    public async Task Record_CountOutlastsItsCallsStoreTime_NextFailuresWaitForItAsOneBatch()
    {
        var counting = new CountingCircuitStateStore(new InterceptingStore(_shared) { ConditionalDelay = TimeSpan.FromMilliseconds(400) });
        var pipeline = Build(counting, failureThreshold: 1_000, storeTimeout: TimeSpan.FromMilliseconds(50));

        // Failures one after another, each call giving up on the store long before the count in flight is answered.
        for (var i = 0; i < 6; i++)
        {
            await Assert.ThrowsAsync<HttpRequestException>(async () => await pipeline.ExecuteAsync<int>(_ => throw new HttpRequestException("down")));
        }

        await Eventually.TrueAsync(async () => (await ReadAsync()).FailureCount == 6);

        // The store never held two counts of this process at once: the five later failures went as one batch after the first.
        Assert.Equal(1, counting.MostIncrementsInFlight);
        Assert.Equal(2, counting.Increments);
    }

    [Fact]
    public async Task Execute_CountReachedTheThresholdAndTheOpeningIsNotWritten_RejectsWithoutCallingOrCounting()
    {
        // A store that opens in a request of its own, behind a queue: the count that reached the threshold is stored.
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        await _shared.WriteAsync(CircuitId, new CircuitSnapshot { FailureCount = 5, LastFailureUnixMs = now, StateTimestampUnixMs = now }, CancellationToken.None);
        var counting = new CountingCircuitStateStore(_shared);
        var called = false;

        var rejected = await Assert.ThrowsAsync<BrokenCircuitException>(async () => await Build(counting).ExecuteAsync(_ =>
        {
            called = true;
            return default;
        }));

        Assert.False(called);
        Assert.InRange(rejected.RetryAfter!.Value, TimeSpan.FromSeconds(9), TimeSpan.FromSeconds(10));
        Assert.Equal(0, counting.Increments);
    }

    [Theory]
    [InlineData(1, false)]
    [InlineData(2, true)]
    public async Task Execute_FailuresWhoseCountsTheStoreThrottled_StopAtHalfTheThreshold(int refused, bool stopsAtTheSecond)
    {
        var intercepting = new InterceptingStore(_shared) { CountsToRefuse = refused };
        var pipeline = Build(intercepting, failureThreshold: 4);

        await Assert.ThrowsAsync<HttpRequestException>(async () => await pipeline.ExecuteAsync<int>(_ => throw new HttpRequestException("down")));
        await Assert.ThrowsAsync<HttpRequestException>(async () => await pipeline.ExecuteAsync<int>(_ => throw new HttpRequestException("down")));

        // Two failures, the second's count held back (the refusal stretched this process's request interval) or refused:
        // the store cannot tell this process whether the fleet has opened. A second count that landed (once due) tells it
        // the circuit is closed below its threshold.
        await Assert.ThrowsAsync<BrokenCircuitException>(async () => await pipeline.ExecuteAsync(_ => new ValueTask<int>(1)));
        if (stopsAtTheSecond)
        {
            await Task.Delay(500);
            await Assert.ThrowsAsync<BrokenCircuitException>(async () => await pipeline.ExecuteAsync(_ => new ValueTask<int>(1)));
        }
        else
        {
            await Eventually.TrueAsync(async () => (await ReadAsync()).FailureCount == 1);
            await Eventually.TrueAsync(async () =>
            {
                try
                {
                    return await pipeline.ExecuteAsync(_ => new ValueTask<int>(1)) == 1;
                }
                catch (BrokenCircuitException)
                {
                    return false;
                }
            });
        }
    }

    [Fact]
    public async Task Record_StoreReportsTheThresholdReachedBeforeItsOpeningLands_RaisesOnOpenedOnceAtOnce()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var intercepting = new InterceptingStore(_shared) { ReportsThresholdReached = true, ConditionalGate = gate };
        var opened = 0;
        var pipeline = Build(intercepting, storeTimeout: TimeSpan.FromMilliseconds(200), failureThreshold: 1, onOpened: () => Interlocked.Increment(ref opened));

        await Assert.ThrowsAsync<HttpRequestException>(async () => await pipeline.ExecuteAsync<int>(_ => throw new HttpRequestException("down")));

        // The opening is held by the store; the count that reached the threshold has been reported, and with it the OPEN.
        await Eventually.TrueAsync(() => Volatile.Read(ref opened) == 1);
        gate.SetResult();
        await intercepting.ConditionalApplied.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await Task.Delay(100);
        Assert.Equal(1, Volatile.Read(ref opened));
        Assert.Equal(StoredCircuitState.Open, (await ReadAsync()).State);
    }

    [Fact]
    public async Task Execute_SecondFailureWhileTheFirstCountIsUnanswered_StopsAndStaysStoppedWhenTheAnswerCameBeforeOthersHadToCount()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var intercepting = new InterceptingStore(_shared) { ConditionalGate = gate };
        var pipeline = Build(intercepting, failureThreshold: 4, storeTimeout: TimeSpan.FromMilliseconds(50));
        var dependency = new FailingDependency();

        await Assert.ThrowsAsync<HttpRequestException>(() => dependency.CallThroughAsync(pipeline));
        await Assert.ThrowsAsync<HttpRequestException>(() => dependency.CallThroughAsync(pipeline));

        // At half its threshold, this process stops: the store has not told it whether the fleet has opened.
        await Assert.ThrowsAsync<BrokenCircuitException>(() => dependency.CallThroughAsync(pipeline));
        Assert.Equal(2, dependency.Calls);

        // The count lands on a circuit closed below its threshold, but sooner after the failures than other processes on a
        // store this slow hold their counts back: it cannot show their failures of the same moment, and the process stays
        // stopped for its break.
        gate.SetResult();
        await Eventually.TrueAsync(async () => (await ReadAsync()).FailureCount == 2);
        await Task.Delay(100);
        await Assert.ThrowsAsync<BrokenCircuitException>(() => dependency.CallThroughAsync(pipeline));
        Assert.Equal(2, dependency.Calls);
    }

    [Fact]
    public async Task Execute_UnansweredCountOfAnEpisodeThatStartedLongBefore_StopsUntilTheAnswerShowsTheCircuitClosed()
    {
        var intercepting = new InterceptingStore(_shared);
        var pipeline = Build(intercepting, failureThreshold: 4, storeTimeout: TimeSpan.FromMilliseconds(50));
        var dependency = new FailingDependency();

        await Assert.ThrowsAsync<HttpRequestException>(() => dependency.CallThroughAsync(pipeline));
        await Eventually.TrueAsync(async () => (await ReadAsync()).FailureCount == 1);
        await Task.Delay(1_000);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        intercepting.ConditionalGate = gate;
        await Assert.ThrowsAsync<HttpRequestException>(() => dependency.CallThroughAsync(pipeline));
        await Assert.ThrowsAsync<BrokenCircuitException>(() => dependency.CallThroughAsync(pipeline));

        // The episode's first failure was counted a second before: the others have had time to count theirs, and an answer
        // that shows none lets this process call again.
        gate.SetResult();
        await Eventually.TrueAsync(async () => (await ReadAsync()).FailureCount == 2);
        await Eventually.TrueAsync(async () => await pipeline.ExecuteAsync(_ => new ValueTask<int>(7)) == 7);
        Assert.Equal(2, dependency.Calls);
    }

    // The count's answer lands after its call stopped waiting and before that call goes on to count the failure in the
    // last known state: the answer already holds it, and counting it again would open this process's view of the circuit
    // (threshold 2) on one failure.
    [Fact]
    public async Task Record_CountAnsweredAfterItsCallGaveUpButBeforeItWentOn_FailureNotCountedTwice()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var intercepting = new InterceptingStore(_shared) { ConditionalGate = gate };
        var pipeline = Build(intercepting, failureThreshold: 2, storeTimeout: TimeSpan.FromMilliseconds(100), timeProvider: time);
        var deferring = new DeferringSynchronizationContext();
        var context = ResilienceContextPool.Shared.Get(continueOnCapturedContext: true);

        var failing = deferring.Start(() => pipeline.ExecuteAsync<int>(_ => throw new HttpRequestException("down"), context).AsTask());
        await Eventually.TrueAsync(() =>
        {
            deferring.RunPending();
            return intercepting.ConditionalStarted.Task.IsCompleted;
        });
        time.Advance(TimeSpan.FromMilliseconds(100));
        await Eventually.TrueAsync(() => deferring.Pending > 0);
        gate.SetResult();
        await intercepting.ConditionalApplied.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await Eventually.TrueAsync(async () => (await ReadAsync()).FailureCount == 1);
        await Task.Delay(100);
        while (!failing.IsCompleted)
        {
            deferring.RunPending();
            await Task.Delay(10);
        }

        await Assert.ThrowsAsync<HttpRequestException>(() => failing);
        ResilienceContextPool.Shared.Return(context);

        // With the store gone, the next call is decided on the last known state: one failure, below the threshold.
        intercepting.ReadsFail = true;
        Assert.Equal(7, await pipeline.ExecuteAsync(_ => new ValueTask<int>(7)));
    }

    // The store counts nothing for a failure from before the circuit last closed; the breaker does not write it either.
    [Fact]
    public async Task Record_FailureFromBeforeTheCircuitLastClosed_NotWrittenByCompareAndSet()
    {
        var time = new FakeTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(1_750_000_000_000));
        await _shared.WriteAsync(CircuitId, CircuitSnapshot.Initial with { StateTimestampUnixMs = 1_750_000_001_000 }, CancellationToken.None);
        var counting = new CountingCircuitStateStore(_shared);
        var pipeline = Build(counting, timeProvider: time);

        await Assert.ThrowsAsync<HttpRequestException>(async () => await pipeline.ExecuteAsync<int>(_ => throw new HttpRequestException("down")));

        Assert.Equal((0L, 1, 0), ((await ReadAsync()).FailureCount, counting.Increments, counting.Replaces));
    }

    // A batch waits behind the count in flight for as long as the store takes to answer it: it is counted as of its
    // failures, so a close that came between them and its sending (here by another process) leaves it uncounted.
    [Fact]
    public async Task Record_BatchWaitingWhileTheCircuitClosed_CountsNothingOnceSent()
    {
        var time = new FakeTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(1_750_000_000_000));
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var counting = new CountingCircuitStateStore(_shared);
        var intercepting = new InterceptingStore(counting) { ConditionalGate = gate };
        var pipeline = Build(intercepting, failureThreshold: 1_000, storeTimeout: TimeSpan.FromMilliseconds(100), timeProvider: time);
        await Assert.ThrowsAsync<HttpRequestException>(() => ExecuteAdvancingAsync(time, pipeline, _ => throw new HttpRequestException("down")));
        await Assert.ThrowsAsync<HttpRequestException>(() => pipeline.ExecuteAsync<int>(_ => throw new HttpRequestException("down")).AsTask().WaitAsync(TimeSpan.FromSeconds(10)));

        time.Advance(TimeSpan.FromSeconds(1));
        await _shared.WriteAsync(CircuitId, CircuitSnapshot.Initial with { StateTimestampUnixMs = time.GetUtcNow().ToUnixTimeMilliseconds() }, CancellationToken.None);
        time.Advance(TimeSpan.FromSeconds(1));
        gate.SetResult();

        // The batch is not sent when the first count's answer shows the close, or sent and refused by the store.
        await intercepting.ConditionalApplied.Task.WaitAsync(TimeSpan.FromSeconds(10));
        for (var second = 0; second < 30; second++)
        {
            time.Advance(TimeSpan.FromSeconds(1));
            await Task.Delay(10);
        }

        await Task.Delay(100);
        Assert.InRange(counting.Increments, 1, 2);
        Assert.Equal(0, (await ReadAsync()).FailureCount);
    }

    [Fact]
    public async Task Record_FailuresWhileAnOverdueCountIsInFlight_ReturnAtOnceAndStopAtTheSecond()
    {
        var (_, _, pipeline) = await FailOnceWhileCountsAreNeverAnsweredAsync();
        var called = 0;

        // No time passes on the breaker's clock: the next failure joins the count that follows the one in flight without
        // waiting for it (it would wait a whole StoreTimeout), and stops this process while the first is unanswered.
        for (var i = 0; i < 1; i++)
        {
            var failing = pipeline.ExecuteAsync<int>(_ =>
            {
                called++;
                throw new HttpRequestException("down");
            }).AsTask();
            await Assert.ThrowsAsync<HttpRequestException>(() => failing.WaitAsync(TimeSpan.FromSeconds(10)));
        }

        await Assert.ThrowsAsync<BrokenCircuitException>(async () => await pipeline.ExecuteAsync(_ => default));
        Assert.Equal(1, called);
    }

    [Fact]
    public async Task Execute_StoreAnswersClosedBeforeThisProcesssFailuresLand_NoCallPastTheThreshold()
    {
        var (time, _, pipeline) = await FailOnceWhileCountsAreNeverAnsweredAsync();
        await Assert.ThrowsAsync<HttpRequestException>(() => pipeline.ExecuteAsync<int>(_ => throw new HttpRequestException("down")).AsTask().WaitAsync(TimeSpan.FromSeconds(10)));

        // Later the store is read again and answers CLOSED with no failure counted: this process's counts have not landed.
        // Its own failures, the second of them behind an unanswered count, still stop it for its own break.
        time.Advance(TimeSpan.FromSeconds(2));
        var called = false;
        var next = pipeline.ExecuteAsync(_ =>
        {
            called = true;
            return default;
        }).AsTask();
        await Assert.ThrowsAsync<BrokenCircuitException>(() => next.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.False(called);
    }

    [Fact]
    public async Task Execute_OwnCircuitOpenWhenTheStoreRecordsTheFleetsOpen_ReadsItOnItsIntervalAndFollowsIt()
    {
        var (time, _, pipeline) = await FailOnceWhileCountsAreNeverAnsweredAsync();
        await Assert.ThrowsAsync<HttpRequestException>(() => pipeline.ExecuteAsync<int>(_ => throw new HttpRequestException("down")).AsTask().WaitAsync(TimeSpan.FromSeconds(10)));

        // This process's own circuit is open for its 10 s break; meanwhile the store records the fleet's OPEN for a minute.
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        await _shared.WriteAsync(CircuitId, new CircuitSnapshot { State = StoredCircuitState.Open, FailureCount = 5, NextAttemptUnixMs = now + 60_000, StateTimestampUnixMs = now }, CancellationToken.None);
        time.Advance(TimeSpan.FromSeconds(2));

        // A rejected call reads the circuit once its interval has passed, and the calls after it are rejected for the
        // fleet's break, not for this process's own.
        await Eventually.TrueAsync(async () =>
        {
            var call = pipeline.ExecuteAsync(_ => default).AsTask();
            while (!call.IsCompleted)
            {
                // A check waits for this process's count in flight, which is never answered, for its store time.
                time.Advance(TimeSpan.FromMilliseconds(50));
                await Task.Delay(10);
            }

            var rejected = await Assert.ThrowsAsync<BrokenCircuitException>(() => call);
            return rejected.RetryAfter > TimeSpan.FromSeconds(30);
        });
    }

    [Fact]
    public async Task Execute_OwnBreakEndsWithNoStoreAnswerUnderPressure_ProbesOnlyAfterTheLongestReadIntervalAndAStoreTimeout()
    {
        var (time, intercepting, pipeline) = await OwnCircuitOpenOnAStaleClosedAsync();

        // The store stops answering (timeouts) as this process's own 10 s break ends: it waits for an answer before it
        // probes for itself, up to its longest read interval and a StoreTimeout.
        intercepting.ReadFailureKind = CircuitStateStoreFailureKind.Timeout;
        intercepting.ReadsFail = true;
        time.Advance(TimeSpan.FromSeconds(8));
        var called = 0;
        ValueTask Call(CancellationToken token)
        {
            called++;
            return default;
        }

        await Assert.ThrowsAsync<BrokenCircuitException>(() => ExecuteAdvancingAsync(time, pipeline, Call));
        Assert.Equal(0, called);

        time.Advance(TimeSpan.FromSeconds(16));
        await ExecuteAdvancingAsync(time, pipeline, Call);
        Assert.Equal(1, called);
    }

    [Fact]
    public async Task Execute_OwnBreakEndsAndTheStoreAnswersClosed_ProbesWithinTheLongestReadIntervalAndAStoreTimeout()
    {
        var (time, intercepting, pipeline) = await OwnCircuitOpenOnAStaleClosedAsync();
        time.Advance(TimeSpan.FromSeconds(8));
        var readsAnswered = intercepting.ReadsAnswered;
        var called = false;
        ValueTask Call(CancellationToken token)
        {
            called = true;
            return default;
        }

        // Calls wait for an answer since this process's own break ended (a read once one is due: this process's counts
        // are still unanswered), for at most its longest read interval and a StoreTimeout (1.1 s here), then probe.
        var steps = 0;
        for (; steps < 30 && !called; steps++)
        {
            try
            {
                await ExecuteAdvancingAsync(time, pipeline, Call);
            }
            catch (BrokenCircuitException)
            {
                time.Advance(TimeSpan.FromMilliseconds(100));
                await Task.Delay(10);
            }
        }

        Assert.True(called);
        Assert.InRange(steps, 1, 12);
        Assert.True(intercepting.ReadsAnswered > readsAnswered);
    }

    // The count's late answer shows the circuit half-open (its break over, another environment probing) or closed again
    // with nothing counted since, after the failures behind it: their episode has ended, and the store would take none
    // of them. Failures after a change to half-open are not sent either: on a store under pressure the circuit is read
    // before a count, and a half-open circuit counts none.
    [Theory]
    [InlineData(StoredCircuitState.HalfOpen, 1_000, 1)]
    [InlineData(StoredCircuitState.HalfOpen, -1_000, 1)]
    [InlineData(StoredCircuitState.Closed, 1_000, 1)]
    [InlineData(StoredCircuitState.Closed, -1_000, 2)]
    public async Task Record_FailuresBehindACountWhoseLateAnswerShowsTheCircuitChanged_SentOnlyIfTheyCameAfterTheChange(StoredCircuitState changedTo, long changedAfterFailuresMs, int expectedCounts)
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var intercepting = new InterceptingStore(_shared) { ConditionalGate = gate };
        var counting = new CountingCircuitStateStore(intercepting);
        var pipeline = Build(counting, storeTimeout: TimeSpan.FromMilliseconds(100), timeProvider: time);
        await Assert.ThrowsAsync<HttpRequestException>(() => ExecuteAdvancingAsync(time, pipeline, _ => throw new HttpRequestException("down")));
        await Assert.ThrowsAsync<HttpRequestException>(() => pipeline.ExecuteAsync<int>(_ => throw new HttpRequestException("down")).AsTask().WaitAsync(TimeSpan.FromSeconds(10)));

        var changedAt = time.GetUtcNow().ToUnixTimeMilliseconds() + changedAfterFailuresMs;
        await _shared.WriteAsync(
            CircuitId,
            changedTo == StoredCircuitState.HalfOpen
                ? new CircuitSnapshot { State = StoredCircuitState.HalfOpen, FailureCount = 5, ProbeLeaseOwner = "elsewhere", ProbeLeaseExpiresUnixMs = changedAt + 30_000, StateTimestampUnixMs = changedAt }
                : CircuitSnapshot.Initial with { StateTimestampUnixMs = changedAt },
            CancellationToken.None);
        var reads = counting.Reads;
        gate.SetResult();
        await intercepting.ConditionalApplied.Task.WaitAsync(TimeSpan.FromSeconds(10));

        await AdvanceUntilAsync(time, () => counting.Increments == expectedCounts && (changedAfterFailuresMs > 0 || counting.Reads > reads));
        await Task.Delay(100);
        Assert.Equal(expectedCounts, counting.Increments);
    }

    [Fact]
    public async Task Record_FailuresBehindACountWhoseLateAnswerShowsTheOpen_AreNotSent()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var intercepting = new InterceptingStore(_shared) { ConditionalGate = gate };
        var counting = new CountingCircuitStateStore(intercepting);
        var pipeline = Build(counting, storeTimeout: TimeSpan.FromMilliseconds(100), timeProvider: time);

        // The first failure's count is held by the store past its call's store time; one more failure gathers behind it.
        await Assert.ThrowsAsync<HttpRequestException>(() => ExecuteAdvancingAsync(time, pipeline, _ => throw new HttpRequestException("down")));
        await Assert.ThrowsAsync<HttpRequestException>(() => pipeline.ExecuteAsync<int>(_ => throw new HttpRequestException("down")).AsTask().WaitAsync(TimeSpan.FromSeconds(10)));

        // Meanwhile other environments open the circuit: the count lands on the OPEN and its answer shows it.
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        await _shared.WriteAsync(CircuitId, new CircuitSnapshot { State = StoredCircuitState.Open, FailureCount = 5, NextAttemptUnixMs = now + 60_000, StateTimestampUnixMs = now }, CancellationToken.None);
        gate.SetResult();
        await intercepting.ConditionalApplied.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await Eventually.TrueAsync(async () =>
        {
            try
            {
                await pipeline.ExecuteAsync(_ => default).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
                return false;
            }
            catch (BrokenCircuitException)
            {
                return true;
            }
        });

        // The failure would count nothing on the open circuit: it is not sent.
        Assert.Equal(1, counting.Increments);
    }

    // On a store that showed pressure (the count's own timeout) the count in flight is waited for past the longest read
    // interval (up to the sustained ceiling, 30 s here): the failures behind it are decided on its answer instead of
    // joining the store's queue as a second count, and go when this process's next request is due.
    [Fact]
    public async Task Record_CountOutlastsTheLongestReadIntervalOnAStoreUnderPressure_FailuresBehindItWaitForItsAnswer()
    {
        var time = new FakeTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(1_750_000_000_000));
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var intercepting = new InterceptingStore(_shared) { ConditionalGate = gate, ReadsFail = true, ReadFailureKind = CircuitStateStoreFailureKind.Throttled };
        var counting = new CountingCircuitStateStore(intercepting);
        var pipeline = Build(counting, failureThreshold: 1_000, storeTimeout: TimeSpan.FromMilliseconds(100), timeProvider: time, cacheTtl: TimeSpan.FromMinutes(1));

        // Three throttled reads, then a CLOSED cached for a minute; a second later this process's next request is due.
        await RefuseThreeReadsAsync(time, intercepting, pipeline);
        time.Advance(TimeSpan.FromSeconds(1));
        await pipeline.ExecuteAsync(_ => default);
        time.Advance(TimeSpan.FromSeconds(1));
        await Assert.ThrowsAsync<HttpRequestException>(() => ExecuteAdvancingAsync(time, pipeline, _ => throw new HttpRequestException("down")));
        await Assert.ThrowsAsync<HttpRequestException>(() => pipeline.ExecuteAsync<int>(_ => throw new HttpRequestException("down")).AsTask().WaitAsync(TimeSpan.FromSeconds(10)));

        for (var second = 0; second < 10; second++)
        {
            time.Advance(TimeSpan.FromSeconds(1));
            await Task.Delay(10);
        }

        await Task.Delay(100);
        Assert.Equal(1, counting.Increments);

        gate.SetResult();
        await AdvanceUntilAsync(time, () => counting.Increments == 2);
        await Eventually.TrueAsync(async () => (await ReadAsync()).FailureCount == 2);
        Assert.Equal(2, counting.Increments);
    }

    [Fact]
    public async Task Record_CountThatNeverEnds_LaterFailuresReachTheStoreAfterTheLongestReadInterval()
    {
        var intercepting = new InterceptingStore(_shared) { ConditionalDelay = TimeSpan.FromHours(1) };
        var counting = new CountingCircuitStateStore(intercepting);
        var pipeline = Build(counting, failureThreshold: 1_000, storeTimeout: TimeSpan.FromMilliseconds(50));
        await Assert.ThrowsAsync<HttpRequestException>(async () => await pipeline.ExecuteAsync<int>(_ => throw new HttpRequestException("down")));
        Assert.Same(intercepting.ConditionalStarted.Task, await Task.WhenAny(intercepting.ConditionalStarted.Task, Task.Delay(5_000)));
        intercepting.ConditionalDelay = TimeSpan.Zero;

        for (var i = 0; i < 3; i++)
        {
            await Assert.ThrowsAsync<HttpRequestException>(async () => await pipeline.ExecuteAsync<int>(_ => throw new HttpRequestException("down")));
        }

        // The first count is never answered; once the longest read interval (1 s here) has passed, the three later
        // failures go to the store as one count.
        await Eventually.TrueAsync(async () => (await ReadAsync()).FailureCount == 3);
        Assert.Equal(2, counting.Increments);
    }

    [Fact]
    public async Task Acquire_FleetCachedTheOpenUntilTheBreakEnded_OneClaimTheRestRead()
    {
        var time = new FakeTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(1_750_000_000_000));
        var counting = new CountingCircuitStateStore(_shared);
        var fleet = Enumerable.Range(0, 20).Select(_ => Build(new InterceptingStore(counting), timeProvider: time, cacheTtl: TimeSpan.FromSeconds(30))).ToList();
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        await _shared.WriteAsync(CircuitId, new CircuitSnapshot { State = StoredCircuitState.Open, FailureCount = 5, NextAttemptUnixMs = now + 1_000, StateTimestampUnixMs = now }, CancellationToken.None);
        foreach (var environment in fleet)
        {
            await Assert.ThrowsAsync<BrokenCircuitException>(async () => await environment.ExecuteAsync(_ => default));
        }

        time.Advance(TimeSpan.FromMilliseconds(1_100));
        var (writes, reads) = (0, 0);
        await fleet[0].ExecuteAsync(async _ =>
        {
            // While the first environment probes, every other one's cache still says OPEN, written before the break ended.
            var (writesBefore, readsBefore) = (counting.AllWrites, counting.Reads);
            foreach (var environment in fleet.Skip(1))
            {
                await Assert.ThrowsAsync<BrokenCircuitException>(async () => await environment.ExecuteAsync(_ => default));
            }

            (writes, reads) = (counting.AllWrites - writesBefore, counting.Reads - readsBefore);
        });

        // Each read the item once and found the lease: none wrote a claim that had to lose.
        Assert.Equal(0, writes);
        Assert.Equal(19, reads);
    }

    [Fact]
    public async Task Record_FailureWhileTheItemThrottlesAndTheCircuitOpenedMeanwhile_ReadsTheOpenAndSendsNoCount()
    {
        var (time, counting, pipeline) = await ThrottledThenCachedClosedAsync();
        await _shared.WriteAsync(CircuitId, new CircuitSnapshot { State = StoredCircuitState.Open, FailureCount = 5, NextAttemptUnixMs = 1_750_000_600_000, StateTimestampUnixMs = 1_750_000_000_000 }, CancellationToken.None);
        var reads = counting.Reads;

        // Decided on the cached CLOSED; the count waits for this process's next request to be due, and the read before it
        // shows the OPEN, which would not count it: no write is spent on it, and the next call is rejected.
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await pipeline.ExecuteAsync(_ => throw new InvalidOperationException("down")));
        Assert.Equal((reads, 0), (counting.Reads, counting.Increments));

        await AdvanceUntilAsync(time, () => counting.Reads == reads + 1);
        await Task.Delay(100);
        Assert.Equal((reads + 1, 0), (counting.Reads, counting.Increments));
        await Assert.ThrowsAsync<BrokenCircuitException>(async () => await pipeline.ExecuteAsync(_ => default));
    }

    [Fact]
    public async Task Record_FailureWhileTheItemThrottlesOnAClosedCircuit_ReadsThenCountsWhenDue()
    {
        var (time, counting, pipeline) = await ThrottledThenCachedClosedAsync();
        var reads = counting.Reads;

        await Assert.ThrowsAsync<InvalidOperationException>(async () => await pipeline.ExecuteAsync(_ => throw new InvalidOperationException("down")));
        Assert.Equal((reads, 0), (counting.Reads, counting.Increments));

        await AdvanceUntilAsync(time, () => counting.Increments == 1);
        Assert.Equal(reads + 1, counting.Reads);
        await Eventually.TrueAsync(async () => (await ReadAsync()).FailureCount == 1);
    }

    [Fact]
    public async Task Record_FailuresWhileTheStoreShowsPressure_HeldUntilDueAndSentAsOneCount()
    {
        var (time, counting, pipeline) = await ThrottledThenCachedClosedAsync(failureThreshold: 1_000);
        for (var failure = 0; failure < 3; failure++)
        {
            await Assert.ThrowsAsync<InvalidOperationException>(async () => await pipeline.ExecuteAsync(_ => throw new InvalidOperationException("down")));
        }

        // This process's next request is not due yet: the three failures wait in one count, which goes when it is.
        Assert.Equal(0, counting.Increments);
        await AdvanceUntilAsync(time, () => counting.Increments == 1);
        await Task.Delay(100);
        Assert.Equal(1, counting.Increments);
        Assert.Equal(3, (await ReadAsync()).FailureCount);
    }

    [Fact]
    public async Task Acquire_BreakEndsWhileTheStoreShowsPressure_RejectsUntilDueThenReadsBeforeClaiming()
    {
        var (time, counting, pipeline) = await ThrottledThenCachedOpenAsync();
        var (reads, writes) = (counting.Reads, counting.AllWrites);

        // The cached OPEN's break has ended, but this process's next request is not due: rejected, and nothing sent.
        time.Advance(TimeSpan.FromMilliseconds(150));
        await Assert.ThrowsAsync<BrokenCircuitException>(async () => await pipeline.ExecuteAsync(_ => default));
        Assert.Equal((reads, writes), (counting.Reads, counting.AllWrites));

        // Once it is due, the circuit is read first; it is still open past its break, so the call claims the probe.
        time.Advance(TimeSpan.FromSeconds(1));
        var probed = false;
        await pipeline.ExecuteAsync(_ =>
        {
            probed = true;
            return default;
        });
        Assert.True(probed);

        // One read, the claim (the move to half-open with this process's lease), and the probe's outcome, which closes.
        Assert.Equal((reads + 1, writes + 2), (counting.Reads, counting.AllWrites));
        Assert.Equal(StoredCircuitState.Closed, (await ReadAsync()).State);
    }

    [Fact]
    public async Task Acquire_BreakEndsWhileTheStoreShowsPressureAndAnotherProcessProbes_ReadsTheLeaseAndWritesNothing()
    {
        var (time, counting, pipeline) = await ThrottledThenCachedOpenAsync();
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        await _shared.WriteAsync(
            CircuitId,
            new CircuitSnapshot { State = StoredCircuitState.HalfOpen, FailureCount = 5, NextAttemptUnixMs = now + 100, ProbeLeaseOwner = "elsewhere", ProbeLeaseEpisode = now + 100, ProbeLeaseExpiresUnixMs = now + 30_000, StateTimestampUnixMs = now + 100 },
            CancellationToken.None);
        var (reads, writes) = (counting.Reads, counting.AllWrites);

        time.Advance(TimeSpan.FromSeconds(2));
        await Assert.ThrowsAsync<BrokenCircuitException>(async () => await pipeline.ExecuteAsync(_ => default));
        Assert.Equal((reads + 1, writes), (counting.Reads, counting.AllWrites));
    }

    [Fact]
    public async Task Execute_CountsAnswerShowsOtherEnvironmentsFailing_OwnCircuitOpensAtHalfTheThreshold()
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        await _shared.WriteAsync(CircuitId, CircuitSnapshot.Initial with { FailureCount = 2, LastFailureUnixMs = now, StateTimestampUnixMs = now - 1_000 }, CancellationToken.None);
        var pipeline = Build(_shared, failureThreshold: 8);
        var called = 0;
        ValueTask<int> Fail(ResilienceContext context)
        {
            called++;
            throw new HttpRequestException("down");
        }

        // The first count's answer shows two failures that are not this process's: the fleet's count is on its way to the
        // threshold, and this process stops at half of it.
        for (var failure = 0; failure < 4; failure++)
        {
            await Assert.ThrowsAsync<HttpRequestException>(() => pipeline.ExecuteAsync(Fail, ResilienceContextPool.Shared.Get()).AsTask());
        }

        await Assert.ThrowsAsync<BrokenCircuitException>(() => pipeline.ExecuteAsync(Fail, ResilienceContextPool.Shared.Get()).AsTask());
        Assert.Equal((4, 6L), (called, (await ReadAsync()).FailureCount));
    }

    [Fact]
    public async Task Execute_CountsAnswersShowOnlyThisProcesssFailures_OwnCircuitKeepsTheWholeThreshold()
    {
        var pipeline = Build(_shared, failureThreshold: 8);
        for (var failure = 0; failure < 7; failure++)
        {
            await Assert.ThrowsAsync<HttpRequestException>(async () => await pipeline.ExecuteAsync<int>(_ => throw new HttpRequestException("down")));
        }

        Assert.Equal(1, await pipeline.ExecuteAsync(_ => new ValueTask<int>(1)));
        Assert.Equal(7, (await ReadAsync()).FailureCount);
    }

    // Three reads a second apart refused as throttled (a read interval of 400 ms, which one fast answer barely shortens);
    // the store answers reads again from then on.
    private static async Task RefuseThreeReadsAsync(FakeTimeProvider time, InterceptingStore throttling, ResiliencePipeline pipeline)
    {
        for (var refusal = 0; refusal < 3; refusal++)
        {
            time.Advance(TimeSpan.FromSeconds(1));
            await pipeline.ExecuteAsync(_ => default);
        }

        throttling.ReadsFail = false;
    }

    // Three reads refused as throttled (a read interval of 400 ms, which one fast answer barely shortens), then a read that
    // answers OPEN with 100 ms of its break left, cached for a minute.
    private async Task<(FakeTimeProvider Time, CountingCircuitStateStore Counting, ResiliencePipeline Pipeline)> ThrottledThenCachedOpenAsync()
    {
        var time = new FakeTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(1_750_000_000_000));
        var throttling = new InterceptingStore(_shared) { ReadsFail = true, ReadFailureKind = CircuitStateStoreFailureKind.Throttled };
        var counting = new CountingCircuitStateStore(throttling);
        var pipeline = Build(counting, timeProvider: time, cacheTtl: TimeSpan.FromMinutes(1), successThreshold: 1);
        await RefuseThreeReadsAsync(time, throttling, pipeline);
        time.Advance(TimeSpan.FromSeconds(3));
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        await _shared.WriteAsync(CircuitId, new CircuitSnapshot { State = StoredCircuitState.Open, FailureCount = 5, NextAttemptUnixMs = now + 100, StateTimestampUnixMs = now }, CancellationToken.None);
        await Assert.ThrowsAsync<BrokenCircuitException>(async () => await pipeline.ExecuteAsync(_ => default));
        return (time, counting, pipeline);
    }

    // Three reads refused as throttled (a read interval of 400 ms, which one fast answer barely shortens), then answered:
    // the CLOSED read stays cached for a minute.
    private async Task<(FakeTimeProvider Time, CountingCircuitStateStore Counting, ResiliencePipeline Pipeline)> ThrottledThenCachedClosedAsync(int failureThreshold = 5)
    {
        var time = new FakeTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(1_750_000_000_000));
        var throttling = new InterceptingStore(_shared) { ReadsFail = true, ReadFailureKind = CircuitStateStoreFailureKind.Throttled };
        var counting = new CountingCircuitStateStore(throttling);
        var pipeline = Build(counting, timeProvider: time, cacheTtl: TimeSpan.FromMinutes(1), failureThreshold: failureThreshold);
        await RefuseThreeReadsAsync(time, throttling, pipeline);
        time.Advance(TimeSpan.FromSeconds(3));
        await pipeline.ExecuteAsync(_ => default);
        return (time, counting, pipeline);
    }

    // Two failures whose counts the store never answers open this process's own circuit (a 10 s break); 2 s later a
    // read answers CLOSED (no failure of this process has landed), which the last known state then holds.
    private async Task<(FakeTimeProvider Time, InterceptingStore Store, ResiliencePipeline Pipeline)> OwnCircuitOpenOnAStaleClosedAsync()
    {
        var (time, intercepting, pipeline) = await FailOnceWhileCountsAreNeverAnsweredAsync();
        await Assert.ThrowsAsync<HttpRequestException>(() => pipeline.ExecuteAsync<int>(_ => throw new HttpRequestException("down")).AsTask().WaitAsync(TimeSpan.FromSeconds(10)));

        var readsAnswered = intercepting.ReadsAnswered;
        time.Advance(TimeSpan.FromSeconds(2));
        await Assert.ThrowsAsync<BrokenCircuitException>(() => ExecuteAdvancingAsync(time, pipeline, _ => default));

        // The rejected call's read runs with no caller waiting; its answer is applied as soon as the store gives it.
        await Eventually.TrueAsync(() => intercepting.ReadsAnswered > readsAnswered);
        await Task.Delay(100);
        return (time, intercepting, pipeline);
    }

    // Moves the breaker's clock on until the condition holds: a count held back under pressure is sent when this process's
    // next request is due on that clock. Bounded by real time, not by steps: on a busy machine the continuations that start
    // the hold may run only after many steps.
    private static async Task AdvanceUntilAsync(FakeTimeProvider time, Func<bool> condition)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        while (!condition() && watch.Elapsed < TimeSpan.FromSeconds(30))
        {
            time.Advance(TimeSpan.FromMilliseconds(100));
            await Task.Delay(5);
        }

        Assert.True(condition());
    }

    // Runs a call, moving the breaker's clock on while it waits (for a count in flight that is never answered).
    private static async Task ExecuteAdvancingAsync(FakeTimeProvider time, ResiliencePipeline pipeline, Func<CancellationToken, ValueTask> callback)
    {
        var call = pipeline.ExecuteAsync(callback).AsTask();
        while (!call.IsCompleted)
        {
            time.Advance(TimeSpan.FromMilliseconds(10));
            await Task.Delay(10);
        }

        await call;
    }

    // A failing call whose count the store never answers: the call waits out its StoreTimeout (100 ms) on the breaker's clock.
    private async Task<(FakeTimeProvider Time, InterceptingStore Store, ResiliencePipeline Pipeline)> FailOnceWhileCountsAreNeverAnsweredAsync()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var intercepting = new InterceptingStore(_shared) { ConditionalDelay = TimeSpan.FromHours(1) };
        var pipeline = Build(intercepting, storeTimeout: TimeSpan.FromMilliseconds(100), timeProvider: time);
        var first = pipeline.ExecuteAsync<int>(_ => throw new HttpRequestException("down")).AsTask();
        await intercepting.ConditionalStarted.Task.WaitAsync(TimeSpan.FromSeconds(10));
        while (!first.IsCompleted)
        {
            time.Advance(TimeSpan.FromMilliseconds(10));
            await Task.Delay(10);
        }

        await Assert.ThrowsAsync<HttpRequestException>(() => first);
        return (time, intercepting, pipeline);
    }

    private ResiliencePipeline Build(
        ICircuitStateStore store,
        Action? onHalfOpened = null,
        TimeSpan? storeTimeout = null,
        int successThreshold = 2,
        int failureThreshold = 5,
        TimeProvider? timeProvider = null,
        TimeSpan cacheTtl = default,
        Action? onOpened = null) =>
        new ResiliencePipelineBuilder { TimeProvider = timeProvider ?? TimeProvider.System }
            .AddDistributedCircuitBreaker(new DistributedCircuitBreakerStrategyOptions
            {
                CacheTtl = cacheTtl,
                CircuitId = CircuitId,
                StateStore = store,
                Consistency = CircuitConsistency.Atomic,
                SuccessThreshold = successThreshold,
                FailureThreshold = failureThreshold,
                StoreTimeout = storeTimeout ?? TimeSpan.FromSeconds(5),
                OnHalfOpened = _ =>
                {
                    onHalfOpened?.Invoke();
                    return default;
                },
                OnOpened = _ =>
                {
                    onOpened?.Invoke();
                    return default;
                },
            })
            .Build();

    private async Task OpenDueAsync() =>
        await _shared.WriteAsync(
            CircuitId,
            new CircuitSnapshot { State = StoredCircuitState.Open, FailureCount = 5, NextAttemptUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - 1 },
            CancellationToken.None);

    private async Task<CircuitSnapshot> ReadAsync() => (await _shared.ReadAsync(CircuitId, CancellationToken.None)).Snapshot;

    /// <summary>A dependency whose every call fails, counting the calls that reached it.</summary>
    private sealed class FailingDependency
    {
        private int _calls;

        public int Calls => Volatile.Read(ref _calls);

        public Task<int> CallThroughAsync(ResiliencePipeline pipeline) => pipeline.ExecuteAsync(Fail, ResilienceContextPool.Shared.Get()).AsTask();

        private ValueTask<int> Fail(ResilienceContext context)
        {
            Interlocked.Increment(ref _calls);
            throw new HttpRequestException("down");
        }
    }
}
