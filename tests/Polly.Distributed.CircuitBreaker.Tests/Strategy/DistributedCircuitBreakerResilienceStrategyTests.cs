using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;
using Polly.CircuitBreaker;
using Polly.Distributed.CircuitBreaker.TestKit;

namespace Polly.Distributed.CircuitBreaker.Tests.Strategy;

public class DistributedCircuitBreakerResilienceStrategyTests
{
    private const string CircuitId = "orders-api";

    private readonly FakeTimeProvider _time = new(DateTimeOffset.FromUnixTimeMilliseconds(1_750_000_000_000));
    private readonly InMemoryCircuitStateStore _shared = new();
    private readonly CountingCircuitStateStore _store;
    private readonly FakeLogger _logger = new();
    private readonly List<string> _events = [];
    private readonly TaskCompletionSource _called = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public DistributedCircuitBreakerResilienceStrategyTests() => _store = new CountingCircuitStateStore(_shared);

    [Fact]
    public async Task Execute_HealthyCallsOnClosedCircuit_OneReadEachAndNoWrite()
    {
        var pipeline = Build();

        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(42, await pipeline.ExecuteAsync(_ => new ValueTask<int>(42)));
        }

        Assert.Equal(10, _store.Reads);
        Assert.Equal(0, _store.AllWrites);
    }

    [Fact]
    public async Task Execute_HealthyCallsWithCache_ReadOncePerTtl()
    {
        var pipeline = Build(o => o.CacheTtl = TimeSpan.FromSeconds(1));

        for (var i = 0; i < 10; i++)
        {
            await pipeline.ExecuteAsync(_ => new ValueTask<int>(1));
        }

        _time.Advance(TimeSpan.FromSeconds(1));
        await pipeline.ExecuteAsync(_ => new ValueTask<int>(1));

        Assert.Equal(2, _store.Reads);
        Assert.Equal(0, _store.AllWrites);
    }

    [Fact]
    public async Task Execute_OpenCircuitWithinCacheTtl_RejectsWithoutStoreCallUntilNextAttempt()
    {
        var pipeline = Build(o =>
        {
            o.CacheTtl = TimeSpan.FromSeconds(30);
            o.BreakDuration = TimeSpan.FromSeconds(10);
        });
        await FailAsync(pipeline, 5);
        var reads = _store.Reads;

        for (var i = 0; i < 10; i++)
        {
            var rejection = await Assert.ThrowsAsync<BrokenCircuitException>(async () => await pipeline.ExecuteAsync(_ => new ValueTask<int>(1)));
            Assert.Equal(TimeSpan.FromSeconds(10), rejection.RetryAfter);
        }

        Assert.Equal(reads, _store.Reads);
        _time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(1, await pipeline.ExecuteAsync(_ => new ValueTask<int>(1)));
    }

    [Fact]
    public async Task Execute_FailuresReachThreshold_OpensAndRejectsWithRetryAfter()
    {
        var pipeline = Build();

        await FailAsync(pipeline, 5);
        var calls = 0;
        var rejection = await Assert.ThrowsAsync<BrokenCircuitException>(async () => await pipeline.ExecuteAsync(_ =>
        {
            calls++;
            return new ValueTask<int>(1);
        }));

        Assert.Equal(0, calls);
        Assert.Equal(TimeSpan.FromSeconds(10), rejection.RetryAfter);
        Assert.Contains(CircuitId, rejection.Message, StringComparison.Ordinal);
        Assert.Equal(["opened"], _events);
        Assert.Equal(5, (await ReadAsync()).FailureCount);
    }

    [Fact]
    public async Task Execute_RejectedCall_CountsAsNeitherAndWritesNothing()
    {
        var pipeline = Build();
        await FailAsync(pipeline, 5);
        var before = await ReadAsync();
        var writes = _store.AllWrites;

        await Assert.ThrowsAsync<BrokenCircuitException>(async () => await pipeline.ExecuteAsync(_ => new ValueTask<int>(1)));

        Assert.Equal(before, await ReadAsync());
        Assert.Equal(writes, _store.AllWrites);
    }

    [Fact]
    public async Task Execute_CallCancelledByCaller_CountsAsNeither()
    {
        var pipeline = Build(o => o.ShouldHandle = _ => new ValueTask<bool>(true));

        await CancelDuringCallAsync(pipeline);

        Assert.Equal(0, (await ReadAsync()).FailureCount);
        Assert.Equal(0, _store.AllWrites);
    }

    [Fact]
    public async Task Execute_AfterBreak_HalfOpensAndClosesAfterSuccessThreshold()
    {
        var pipeline = Build();
        await FailAsync(pipeline, 5);
        _time.Advance(TimeSpan.FromSeconds(10));

        await pipeline.ExecuteAsync(_ => new ValueTask<int>(1));
        Assert.Equal(StoredCircuitState.HalfOpen, (await ReadAsync()).State);
        await pipeline.ExecuteAsync(_ => new ValueTask<int>(1));

        var closed = await ReadAsync();
        Assert.Equal(StoredCircuitState.Closed, closed.State);
        Assert.Equal(0, closed.FailureCount);
        Assert.Equal(["opened", "half-opened", "closed"], _events);
    }

    [Fact]
    public async Task Execute_ProbeFails_ReopensWithDoubledBreak()
    {
        var pipeline = Build();
        await FailAsync(pipeline, 5);
        _time.Advance(TimeSpan.FromSeconds(10));

        await FailAsync(pipeline, 1);

        var reopened = await ReadAsync();
        Assert.Equal(StoredCircuitState.Open, reopened.State);
        Assert.Equal(1, reopened.ConsecutiveOpens);
        Assert.Equal(_time.GetUtcNow().ToUnixTimeMilliseconds() + 20_000, reopened.NextAttemptUnixMs);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Execute_LateOutcomeWhileOpen_ChangesNothing(bool lateFailure)
    {
        await _shared.WriteAsync(CircuitId, new CircuitSnapshot
        {
            State = StoredCircuitState.HalfOpen,
            FailureCount = 5,
            ConsecutiveOpens = 2,
        }, CancellationToken.None);
        var pipeline = Build();
        var other = Build();
        var release = new TaskCompletionSource();
        var slowCall = pipeline.ExecuteAsync(async _ =>
        {
            await release.Task;
            return lateFailure ? throw new InvalidOperationException("late failure") : 1;
        }).AsTask();
        await FailAsync(other, 1);
        var opened = await ReadAsync();
        _time.Advance(TimeSpan.FromSeconds(3));

        release.SetResult();
        await Xunit.Record.ExceptionAsync(() => slowCall);

        Assert.Equal(StoredCircuitState.Open, opened.State);
        Assert.Equal(3, opened.ConsecutiveOpens);
        Assert.Equal(opened, await ReadAsync());
    }

    [Fact]
    public async Task Execute_ShouldHandleFromPredicateBuilder_CountsHandledResults()
    {
        var pipeline = new ResiliencePipelineBuilder<int> { TimeProvider = _time }
            .AddDistributedCircuitBreaker(new DistributedCircuitBreakerStrategyOptions<int>
            {
                CircuitId = CircuitId,
                StateStore = _store,
                FailureThreshold = 2,
                ShouldHandle = new PredicateBuilder<int>().HandleResult(r => r >= 500),
            })
            .Build();

        await pipeline.ExecuteAsync(_ => new ValueTask<int>(200));
        await pipeline.ExecuteAsync(_ => new ValueTask<int>(503));
        Assert.Equal(1, (await ReadAsync()).FailureCount);
        await pipeline.ExecuteAsync(_ => new ValueTask<int>(500));

        Assert.Equal(StoredCircuitState.Open, (await ReadAsync()).State);
    }

    [Fact]
    public async Task Execute_DefaultShouldHandle_IgnoresOperationCanceledException()
    {
        var pipeline = Build();

        await Assert.ThrowsAsync<OperationCanceledException>(async () => await pipeline.ExecuteAsync<int>(_ => throw new OperationCanceledException()));

        Assert.Equal(0, (await ReadAsync()).FailureCount);
    }

    [Fact]
    public async Task ManualControl_Isolate_RejectsEveryBreakerWithIsolatedCircuitExceptionUntilClosed()
    {
        var control = new DistributedCircuitBreakerManualControl();
        var pipeline = Build(o => o.ManualControl = control);
        var otherProcess = Build();

        await control.IsolateAsync();
        await Assert.ThrowsAsync<IsolatedCircuitException>(async () => await otherProcess.ExecuteAsync(_ => new ValueTask<int>(1)));
        _time.Advance(TimeSpan.FromDays(365));
        await Assert.ThrowsAsync<IsolatedCircuitException>(async () => await pipeline.ExecuteAsync(_ => new ValueTask<int>(1)));

        await control.CloseAsync();
        Assert.Equal(1, await otherProcess.ExecuteAsync(_ => new ValueTask<int>(1)));
        Assert.Equal(["opened", "closed"], _events);
    }

    [Theory]
    [InlineData(CircuitConsistency.Atomic)]
    [InlineData(CircuitConsistency.LastWriterWins)]
    public async Task Execute_ContinueOnCapturedContext_RaisesOnOpenedOnTheCallersContext(CircuitConsistency consistency)
    {
        var callers = new PostingSynchronizationContext();
        SynchronizationContext? seen = null;
        var pipeline = Build(o =>
        {
            o.StateStore = new Controller.InterceptingStore(_shared) { ReadDelay = TimeSpan.FromMilliseconds(20), ConditionalDelay = TimeSpan.FromMilliseconds(20) };
            o.Consistency = consistency;
            o.FailureThreshold = 1;
            o.OnOpened = _ =>
            {
                seen = SynchronizationContext.Current;
                return default;
            };
        });

        await Task.Run(async () =>
        {
            SynchronizationContext.SetSynchronizationContext(callers);
            var context = ResilienceContextPool.Shared.Get(continueOnCapturedContext: true);
            try
            {
                var outcome = await pipeline.ExecuteOutcomeAsync(
                    static (_, _) => new ValueTask<Outcome<int>>(Outcome.FromException<int>(new HttpRequestException("down"))),
                    context,
                    0);
                Assert.IsType<HttpRequestException>(outcome.Exception);
            }
            finally
            {
                ResilienceContextPool.Shared.Return(context);
                SynchronizationContext.SetSynchronizationContext(null);
            }
        });

        Assert.Same(callers, seen);
    }

    [Fact]
    public async Task ManualControl_IsolatedBeforeAnyBreakerAttached_IsolatesBreakersAttachedLater()
    {
        var control = new DistributedCircuitBreakerManualControl();
        await control.IsolateAsync();

        var pipeline = Build(o => o.ManualControl = control);

        await Assert.ThrowsAsync<IsolatedCircuitException>(async () => await pipeline.ExecuteAsync(_ => default));
        await Eventually.TrueAsync(async () => (await ReadAsync()).IsIsolated);
        await Assert.ThrowsAsync<IsolatedCircuitException>(async () => await Build().ExecuteAsync(_ => default));

        await control.CloseAsync();
        await pipeline.ExecuteAsync(_ => default);
        Assert.Equal(StoredCircuitState.Closed, (await ReadAsync()).State);
    }

    [Fact]
    public async Task ManualControl_IsolatedThenClosedBeforeAnyBreakerAttached_LeavesLaterBreakersClosed()
    {
        var control = new DistributedCircuitBreakerManualControl();
        await control.IsolateAsync();
        await control.CloseAsync();

        await Build(o => o.ManualControl = control).ExecuteAsync(_ => default);

        Assert.False((await ReadAsync()).IsIsolated);
    }

    [Fact]
    public async Task StateProvider_GetSnapshotAsync_ReadsSharedState()
    {
        var provider = new DistributedCircuitBreakerStateProvider();
        Build(o => o.StateProvider = provider);
        await FailAsync(Build(), 5);

        var snapshot = await provider.GetSnapshotAsync();

        Assert.Equal(StoredCircuitState.Open, snapshot.State);
        Assert.Equal(CircuitState.Open, await provider.GetCircuitStateAsync());
        Assert.Equal([CircuitId], provider.CircuitIds);
    }

    [Fact]
    public async Task StateProvider_SharedByBreakersOfSeveralCircuits_ReadsEachByIdAndAsksForOneWithoutIt()
    {
        var provider = new DistributedCircuitBreakerStateProvider();
        var orders = Build(o => o.StateProvider = provider);
        Build(o =>
        {
            o.StateProvider = provider;
            o.CircuitId = "payments-api";
        });
        await FailAsync(orders, 5);

        Assert.Equal(CircuitState.Open, await provider.GetCircuitStateAsync(CircuitId));
        Assert.Equal(CircuitState.Closed, await provider.GetCircuitStateAsync("payments-api"));
        Assert.Equal([CircuitId, "payments-api"], provider.CircuitIds.Order(StringComparer.Ordinal));
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => provider.GetSnapshotAsync());
        Assert.Contains("pass the circuit id", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Execute_StoreThrows_FailsOpenWithCallsOwnOutcomeAndWarning()
    {
        var faulty = new FaultyCircuitStateStore(_shared) { Mode = FaultyCircuitStateStore.Fault.Throw };
        var failures = new List<OnCircuitStateStoreFailureArguments>();
        var pipeline = Build(o =>
        {
            o.StateStore = faulty;
            o.Consistency = CircuitConsistency.Atomic;
            o.OnStateStoreFailure = args =>
            {
                failures.Add(args);
                return default;
            };
        });

        Assert.Equal(7, await pipeline.ExecuteAsync(_ => new ValueTask<int>(7)));
        var own = await Assert.ThrowsAsync<TimeoutException>(async () => await pipeline.ExecuteAsync<int>(_ => throw new TimeoutException("downstream")));

        Assert.Equal("downstream", own.Message);
        Assert.Equal([CircuitStateStoreOperation.Read, CircuitStateStoreOperation.Read, CircuitStateStoreOperation.CountFailure], failures.Select(f => f.Operation).ToArray());
        var warning = _logger.LatestRecord;
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains(CircuitId, warning.Message, StringComparison.Ordinal);
        Assert.Contains("store is down", warning.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(CircuitConsistency.Atomic)]
    [InlineData(CircuitConsistency.LastWriterWins)]
    public async Task Execute_StoreDownAndDependencyFailing_StopsCallingAtThresholdUntilBreakAndOneAnswerWait(CircuitConsistency consistency)
    {
        var faulty = new FaultyCircuitStateStore(_shared) { Mode = FaultyCircuitStateStore.Fault.Throw };
        var pipeline = Build(o =>
        {
            o.StateStore = faulty;
            o.Consistency = consistency;
        });
        var calls = 0;

        await FailAsync(pipeline, 5);
        await Assert.ThrowsAsync<BrokenCircuitException>(async () => await pipeline.ExecuteAsync(_ => new ValueTask<int>(++calls)));
        // Break 10 s; then the read interval's ceiling (2 s) and a store timeout (500 ms) for the store to answer.
        _time.Advance(TimeSpan.FromMilliseconds(12_499));
        await Assert.ThrowsAsync<BrokenCircuitException>(async () => await pipeline.ExecuteAsync(_ => new ValueTask<int>(++calls)));
        _time.Advance(TimeSpan.FromMilliseconds(1));

        Assert.Equal(1, await pipeline.ExecuteAsync(_ => new ValueTask<int>(++calls)));
    }

    [Theory]
    [InlineData(CircuitConsistency.Atomic)]
    [InlineData(CircuitConsistency.LastWriterWins)]
    public async Task Execute_FleetBreakEndedWithStoreDown_ProbesOnceAtATimeLikePollysBreaker(CircuitConsistency consistency)
    {
        var (pipeline, _, probe, probing) = await ProbingLocallyAfterTheFleetsBreakAsync(consistency);

        await Assert.ThrowsAsync<BrokenCircuitException>(async () => await pipeline.ExecuteAsync(_ => new ValueTask<int>(1)));
        probe.SetException(new HttpRequestException("503"));
        await Assert.ThrowsAsync<HttpRequestException>(() => probing);

        // The failed probe breaks this process for twice the break, as the fleet would after one failed probe.
        _time.Advance(TimeSpan.FromMilliseconds(19_999));
        await Assert.ThrowsAsync<BrokenCircuitException>(async () => await pipeline.ExecuteAsync(_ => new ValueTask<int>(2)));
        _time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(3, await pipeline.ExecuteAsync(_ => new ValueTask<int>(3)));
        Assert.Equal(4, await pipeline.ExecuteAsync(_ => new ValueTask<int>(4)));
        Assert.Equal(5, await pipeline.ExecuteAsync(_ => new ValueTask<int>(5)));
    }

    [Theory]
    [InlineData(CircuitConsistency.Atomic)]
    [InlineData(CircuitConsistency.LastWriterWins)]
    public async Task Execute_LocalProbeSucceedsAfterThisProcessLearnedANewerOpen_KeepsRejecting(CircuitConsistency consistency)
    {
        var provider = new DistributedCircuitBreakerStateProvider();
        var (pipeline, faulty, probe, probing) = await ProbingLocallyAfterTheFleetsBreakAsync(consistency, provider);

        // While this process probes for itself, the fleet's own probe fails and re-opens the circuit, and this process reads it.
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        await _shared.WriteAsync(CircuitId, new CircuitSnapshot { State = StoredCircuitState.Open, FailureCount = 6, ConsecutiveOpens = 1, NextAttemptUnixMs = now + 20_000, StateTimestampUnixMs = now }, CancellationToken.None);
        faulty.Mode = FaultyCircuitStateStore.Fault.None;
        await provider.GetSnapshotAsync(CircuitId);
        faulty.Mode = FaultyCircuitStateStore.Fault.Throw;
        probe.SetResult(1);

        Assert.Equal(1, await probing);
        var rejected = await Assert.ThrowsAsync<BrokenCircuitException>(async () => await pipeline.ExecuteAsync(_ => new ValueTask<int>(2)));
        // The newer OPEN's break of 20 s, and the 2.5 s the store then has to answer before this process probes again.
        Assert.Equal(TimeSpan.FromMilliseconds(22_500), rejected.RetryAfter);
    }

    [Fact]
    public async Task Execute_StoreHangsPastTimeout_FailsOpenWithCallsOwnResult()
    {
        var faulty = new FaultyCircuitStateStore(_shared) { Mode = FaultyCircuitStateStore.Fault.Hang };
        var pipeline = new ResiliencePipelineBuilder()
            .AddDistributedCircuitBreaker(new DistributedCircuitBreakerStrategyOptions
            {
                CircuitId = CircuitId,
                StateStore = faulty,
                StoreTimeout = TimeSpan.FromMilliseconds(50),
                Logger = _logger,
            })
            .Build();

        // The bound only turns a regression (a hang) into a failure instead of a stuck run.
        var result = await pipeline.ExecuteAsync(_ => new ValueTask<string>("own result")).AsTask().WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal("own result", result);
        Assert.Contains("did not answer within 50 ms", _logger.LatestRecord.Message + _logger.LatestRecord.Exception, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Execute_StoreRecovers_ResumesFromSharedState()
    {
        var faulty = new FaultyCircuitStateStore(_shared);
        var pipeline = Build(o => o.StateStore = faulty);
        await FailAsync(Build(), 5);

        faulty.Mode = FaultyCircuitStateStore.Fault.Throw;
        Assert.Equal(1, await pipeline.ExecuteAsync(_ => new ValueTask<int>(1)));
        faulty.Mode = FaultyCircuitStateStore.Fault.None;

        await Assert.ThrowsAsync<BrokenCircuitException>(async () => await pipeline.ExecuteAsync(_ => new ValueTask<int>(1)));
    }

    [Fact]
    public async Task Execute_MalformedStoredItem_ReadsClosedAndLogsWarning()
    {
        var malformed = new MalformedItemStore(_shared);
        var pipeline = Build(o => o.StateStore = malformed);

        Assert.Equal(3, await pipeline.ExecuteAsync(_ => new ValueTask<int>(3)));

        Assert.Contains("malformed (unknown circuitState 'BROKEN')", _logger.LatestRecord.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Execute_AtomicProbeCancelledByCaller_ReleasesLeaseForNextCaller()
    {
        var pipeline = Build(o => o.Consistency = CircuitConsistency.Atomic);
        await FailAsync(pipeline, 5);
        _time.Advance(TimeSpan.FromSeconds(10));

        await CancelDuringCallAsync(pipeline);

        Assert.Null((await ReadAsync()).ProbeLeaseOwner);
        Assert.Equal(1, await pipeline.ExecuteAsync(_ => new ValueTask<int>(1)));
        Assert.Equal(1, (await ReadAsync()).SuccessCount);
    }

    [Fact]
    public async Task Execute_AtomicProbeHolderCrashed_AnotherCallProbesAfterLease()
    {
        var pipeline = Build(o =>
        {
            o.Consistency = CircuitConsistency.Atomic;
            o.ProbeLeaseDuration = TimeSpan.FromSeconds(5);
        });
        await _shared.WriteAsync(CircuitId, new CircuitSnapshot
        {
            State = StoredCircuitState.HalfOpen,
            ProbeLeaseOwner = "crashed-process",
            ProbeLeaseExpiresUnixMs = _time.GetUtcNow().ToUnixTimeMilliseconds() + 5_000,
            StateTimestampUnixMs = _time.GetUtcNow().ToUnixTimeMilliseconds(),
        }, CancellationToken.None);

        var rejected = await Assert.ThrowsAsync<BrokenCircuitException>(async () => await pipeline.ExecuteAsync(_ => new ValueTask<int>(1)));
        Assert.Equal(TimeSpan.FromSeconds(5), rejected.RetryAfter);
        _time.Advance(TimeSpan.FromSeconds(5));

        Assert.Equal(1, await pipeline.ExecuteAsync(_ => new ValueTask<int>(1)));
        Assert.Equal(1, (await ReadAsync()).SuccessCount);
    }

    [Fact]
    public async Task Execute_StoreWriteFails_FailsOpenWithCallsOwnOutcomeNamingTheWrite()
    {
        var failures = new List<OnCircuitStateStoreFailureArguments>();
        var pipeline = Build(o =>
        {
            o.StateStore = new FailingWriteStore(_shared);
            o.FailureThreshold = 1;
            o.OnStateStoreFailure = args =>
            {
                failures.Add(args);
                return default;
            };
        });

        var own = await Assert.ThrowsAsync<HttpRequestException>(async () => await pipeline.ExecuteAsync<int>(_ => throw new HttpRequestException("own")));

        Assert.Equal("own", own.Message);
        Assert.Equal(CircuitStateStoreOperation.Write, Assert.Single(failures).Operation);
        Assert.Contains("Write", _logger.LatestRecord.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Execute_AtomicFullCycle_OpensProbesAndClosesOnce()
    {
        var pipeline = Build(o => o.Consistency = CircuitConsistency.Atomic);
        await FailAsync(pipeline, 5);
        _time.Advance(TimeSpan.FromSeconds(10));

        await pipeline.ExecuteAsync(_ => new ValueTask<int>(1));
        await pipeline.ExecuteAsync(_ => new ValueTask<int>(1));

        var closed = await ReadAsync();
        Assert.Equal(StoredCircuitState.Closed, closed.State);
        Assert.Null(closed.ProbeLeaseOwner);
        Assert.Equal(["opened", "half-opened", "closed"], _events);
    }

    [Fact]
    public async Task Execute_AtomicWithCache_OpensOnceAndRejectsFromCache()
    {
        var pipeline = Build(o =>
        {
            o.Consistency = CircuitConsistency.Atomic;
            o.CacheTtl = TimeSpan.FromSeconds(5);
        });

        await FailAsync(pipeline, 5);
        var readsAfterOpen = _store.Reads;
        await Assert.ThrowsAsync<BrokenCircuitException>(async () => await pipeline.ExecuteAsync(_ => new ValueTask<int>(1)));

        Assert.Equal(5, (await ReadAsync()).FailureCount);
        Assert.Equal(["opened"], _events);
        Assert.Equal(readsAfterOpen, _store.Reads);
    }

    [Fact]
    public async Task Execute_CachedBusyEnvironment_SeesOtherEnvironmentsOpenOnceTtlPasses()
    {
        var busy = Build(o => o.CacheTtl = TimeSpan.FromSeconds(2));
        var other = Build(o => o.StateStore = new CountingCircuitStateStore(_shared));
        await busy.ExecuteAsync(_ => new ValueTask<int>(1));
        await FailAsync(other, 5);

        Assert.Equal(1, await busy.ExecuteAsync(_ => new ValueTask<int>(1)));
        _time.Advance(TimeSpan.FromSeconds(2));

        await Assert.ThrowsAsync<BrokenCircuitException>(async () => await busy.ExecuteAsync(_ => new ValueTask<int>(1)));
    }

    [Fact]
    public async Task Execute_TwoBreakersOnOneStoreInstance_ShareOneCacheEntry()
    {
        var first = Build(o => o.CacheTtl = TimeSpan.FromSeconds(5));
        var second = Build(o => o.CacheTtl = TimeSpan.FromSeconds(5));

        await first.ExecuteAsync(_ => new ValueTask<int>(1));
        await second.ExecuteAsync(_ => new ValueTask<int>(1));

        Assert.Equal(1, _store.Reads);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Execute_InlineStoreCallbackAndPredicateCompleteLater_CountsAndOpensOnce(bool cached)
    {
        // The in-memory store itself (not wrapped) takes the inline check; the call and the predicate then complete later.
        var pipeline = Build(o =>
        {
            o.StateStore = _shared;
            o.CacheTtl = cached ? TimeSpan.FromSeconds(1) : TimeSpan.Zero;
            o.ShouldHandle = async args =>
            {
                await Task.Yield();
                return args.Outcome.Exception is HttpRequestException;
            };
        });

        for (var i = 0; i < 5; i++)
        {
            await Assert.ThrowsAsync<HttpRequestException>(async () => await pipeline.ExecuteAsync<int>(async _ =>
            {
                await Task.Yield();
                throw new HttpRequestException("503");
            }));
        }

        Assert.Equal(StoredCircuitState.Open, (await ReadAsync()).State);
        Assert.Equal(["opened"], _events);
        await Assert.ThrowsAsync<BrokenCircuitException>(async () => await pipeline.ExecuteAsync(_ => new ValueTask<int>(1)));
    }

    private ResiliencePipeline Build(Action<DistributedCircuitBreakerStrategyOptions>? configure = null)
    {
        var options = new DistributedCircuitBreakerStrategyOptions
        {
            CircuitId = CircuitId,
            StateStore = _store,
            Logger = _logger,
            OnOpened = _ => Record("opened"),
            OnHalfOpened = _ => Record("half-opened"),
            OnClosed = _ => Record("closed"),
        };
        configure?.Invoke(options);
        return new ResiliencePipelineBuilder { TimeProvider = _time }.AddDistributedCircuitBreaker(options).Build();
    }

    private ValueTask Record(string name)
    {
        lock (_events)
        {
            _events.Add(name);
        }

        return default;
    }

    // The fleet opens the circuit, this process sees it, the store goes down, and once the break and the store's answer
    // wait (2.5 s) are over a call of this process reaches the dependency as its own probe, waiting for its outcome there.
    private async Task<(ResiliencePipeline Pipeline, FaultyCircuitStateStore Store, TaskCompletionSource<int> Probe, Task<int> Probing)> ProbingLocallyAfterTheFleetsBreakAsync(
        CircuitConsistency consistency,
        DistributedCircuitBreakerStateProvider? provider = null)
    {
        var faulty = new FaultyCircuitStateStore(_shared);
        var pipeline = Build(o =>
        {
            o.StateStore = faulty;
            o.Consistency = consistency;
            o.StateProvider = provider;
        });
        await FailAsync(Build(o => o.Consistency = consistency), 5);
        await Assert.ThrowsAsync<BrokenCircuitException>(async () => await pipeline.ExecuteAsync(_ => new ValueTask<int>(0)));
        faulty.Mode = FaultyCircuitStateStore.Fault.Throw;
        _time.Advance(TimeSpan.FromMilliseconds(12_500));
        var probe = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        var probing = ProbeAsync(pipeline, probe.Task);
        Assert.Same(_called.Task, await Task.WhenAny(_called.Task, probing));
        return (pipeline, faulty, probe, probing);
    }

    // A call that reaches the dependency and waits there for the outcome the test gives it.
    private Task<int> ProbeAsync(ResiliencePipeline pipeline, Task<int> outcome) => pipeline.ExecuteAsync(async _ =>
    {
        _called.TrySetResult();
        return await outcome;
    }).AsTask();

    private static async Task FailAsync(ResiliencePipeline pipeline, int times)
    {
        for (var i = 0; i < times; i++)
        {
            await Assert.ThrowsAsync<HttpRequestException>(async () => await pipeline.ExecuteAsync<int>(_ => throw new HttpRequestException("503")));
        }
    }

    private static async Task CancelDuringCallAsync(ResiliencePipeline pipeline)
    {
        using var cancellation = new CancellationTokenSource();

        await Assert.ThrowsAsync<OperationCanceledException>(async () => await pipeline.ExecuteAsync(
            ct =>
            {
                cancellation.Cancel();
                ct.ThrowIfCancellationRequested();
                return new ValueTask<int>(1);
            },
            cancellation.Token));
    }

    private async Task<CircuitSnapshot> ReadAsync() => (await _shared.ReadAsync(CircuitId, CancellationToken.None)).Snapshot;

    private sealed class FailingWriteStore(ICircuitStateStore inner) : ICircuitStateStore
    {
        public ValueTask<StoredCircuit> ReadAsync(string circuitId, CancellationToken cancellationToken) => inner.ReadAsync(circuitId, cancellationToken);

        public ValueTask<bool> WriteAsync(string circuitId, CircuitSnapshot snapshot, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("write refused");

        public ValueTask<CircuitWriteResult> TryReplaceAsync(string circuitId, StoredCircuit expected, CircuitSnapshot replacement, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("write refused");

        public ValueTask<CircuitWriteResult> TryClaimProbeAsync(string circuitId, string owner, long leaseExpiresUnixMs, long nowUnixMs, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("write refused");

        public ValueTask<CircuitIncrementResult> TryIncrementFailureAsync(string circuitId, CircuitFailureIncrement increment, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("write refused");
    }

    private sealed class MalformedItemStore(ICircuitStateStore inner) : ICircuitStateStore
    {
        public ValueTask<StoredCircuit> ReadAsync(string circuitId, CancellationToken cancellationToken)
        {
            var snapshot = CircuitSnapshotSchema.Parse(name => name == CircuitSnapshotSchema.CircuitStateAttribute ? "BROKEN" : null, out var reason);
            return new(new StoredCircuit(snapshot, true, null, reason));
        }

        public ValueTask<bool> WriteAsync(string circuitId, CircuitSnapshot snapshot, CancellationToken cancellationToken) => inner.WriteAsync(circuitId, snapshot, cancellationToken);

        public ValueTask<CircuitWriteResult> TryReplaceAsync(string circuitId, StoredCircuit expected, CircuitSnapshot replacement, CancellationToken cancellationToken) =>
            inner.TryReplaceAsync(circuitId, expected, replacement, cancellationToken);

        public ValueTask<CircuitWriteResult> TryClaimProbeAsync(string circuitId, string owner, long leaseExpiresUnixMs, long nowUnixMs, CancellationToken cancellationToken) =>
            inner.TryClaimProbeAsync(circuitId, owner, leaseExpiresUnixMs, nowUnixMs, cancellationToken);

        // Reports what a store reports for an item it cannot count: not counted, the malformed item as read.
        public async ValueTask<CircuitIncrementResult> TryIncrementFailureAsync(string circuitId, CircuitFailureIncrement increment, CancellationToken cancellationToken) =>
            new(CircuitIncrementOutcome.NotCounted, await ReadAsync(circuitId, cancellationToken));
    }

    /// <summary>A caller's context (as a UI thread or a classic ASP.NET request has) that runs what is posted to it with itself current.</summary>
    private sealed class PostingSynchronizationContext : SynchronizationContext
    {
        public override void Post(SendOrPostCallback d, object? state) =>
            ThreadPool.QueueUserWorkItem(_ =>
            {
                SetSynchronizationContext(this);
                try
                {
                    d(state);
                }
                finally
                {
                    SetSynchronizationContext(null);
                }
            });
    }
}
