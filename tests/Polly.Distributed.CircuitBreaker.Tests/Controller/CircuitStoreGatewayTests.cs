using System.Diagnostics;

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
        var store = new MisbehavingStore(_shared) { DelayIgnoringToken = TimeSpan.FromMilliseconds(700) };
        var failures = new List<(CircuitStateStoreOperation Operation, Exception Error)>();
        var pipeline = Build(store, TimeSpan.FromSeconds(1), failures);

        await Assert.ThrowsAsync<HttpRequestException>(async () => await pipeline.ExecuteAsync(_ => throw new HttpRequestException("down")));

        // The check took 700 ms of the 1 s budget: the failure's count gets what is left and times out; with a second full
        // second it would have been answered (700 ms) and no failure reported.
        var failure = Assert.Single(failures);
        Assert.Equal(CircuitStateStoreOperation.CountFailure, failure.Operation);
        Assert.IsType<TimeoutException>(failure.Error);
    }

    [Fact]
    public async Task Execute_OpeningCountLandsAfterCallStoppedWaiting_RaisesOnOpenedOnce()
    {
        var store = new MisbehavingStore(_shared) { DelayIgnoringToken = TimeSpan.FromMilliseconds(400), OnlyCountsAreLate = true };
        var opened = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        var openedCount = 0;
        var pipeline = new ResiliencePipelineBuilder()
            .AddDistributedCircuitBreaker(new DistributedCircuitBreakerStrategyOptions
            {
                CircuitId = "late-" + Guid.NewGuid().ToString("N"),
                StateStore = store,
                Consistency = CircuitConsistency.Atomic,
                FailureThreshold = 1,
                StoreTimeout = TimeSpan.FromMilliseconds(100),
                OnOpened = args =>
                {
                    Interlocked.Increment(ref openedCount);
                    opened.TrySetResult(args.IsManual);
                    return default;
                },
            })
            .Build();

        await Assert.ThrowsAsync<HttpRequestException>(async () => await pipeline.ExecuteAsync(_ => throw new HttpRequestException("down")));
        Assert.Equal(0, openedCount);

        Assert.False(await opened.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        await Assert.ThrowsAsync<Polly.CircuitBreaker.BrokenCircuitException>(async () => await pipeline.ExecuteAsync(_ => default));
        Assert.Equal(1, openedCount);
    }

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
}
