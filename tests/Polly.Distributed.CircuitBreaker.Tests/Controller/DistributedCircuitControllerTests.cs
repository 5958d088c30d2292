using Microsoft.Extensions.Time.Testing;
using Polly.CircuitBreaker;

namespace Polly.Distributed.CircuitBreaker.Tests.Controller;

/// <summary>Stale reads, cached writes, writes that land but time out, and the per-environment floor whatever the store does.</summary>
public class DistributedCircuitControllerTests
{
    private const string CircuitId = "orders";
    private readonly FakeTimeProvider _time = new(DateTimeOffset.FromUnixTimeMilliseconds(1_750_000_000_000));
    private readonly InMemoryCircuitStateStore _shared = new();

    private long Now => _time.GetUtcNow().ToUnixTimeMilliseconds();

    [Fact]
    public async Task Record_AtomicProbeFailsWhileReadsAreStale_ReopensInsteadOfHoldingLease()
    {
        await _shared.WriteAsync(CircuitId, new CircuitSnapshot { State = StoredCircuitState.Open, FailureCount = 5, NextAttemptUnixMs = Now - 1 }, CancellationToken.None);
        var stale = new StaleReadStore(_shared);
        await stale.FreezeReadsAsync();
        var pipeline = Build(stale, CircuitConsistency.Atomic, cacheTtl: TimeSpan.Zero);

        await Assert.ThrowsAsync<HttpRequestException>(async () => await pipeline.ExecuteAsync<int>(_ => throw new HttpRequestException()));

        var stored = (await _shared.ReadAsync(CircuitId, CancellationToken.None)).Snapshot;
        Assert.Equal(StoredCircuitState.Open, stored.State);
        Assert.Equal(1, stored.ConsecutiveOpens);
        Assert.Null(stored.ProbeLeaseOwner);
    }

    [Fact]
    public async Task Record_LastWriterWinsWithCachedClosed_DoesNotOverwriteAnotherProcesssOpen()
    {
        var cachedProcess = Build(new SeparateCacheStore(_shared), CircuitConsistency.LastWriterWins, cacheTtl: TimeSpan.FromSeconds(10));
        var otherProcess = Build(new SeparateCacheStore(_shared), CircuitConsistency.LastWriterWins, cacheTtl: TimeSpan.Zero);
        await FailAsync(cachedProcess, 3);
        await FailAsync(otherProcess, 2);
        var opened = (await _shared.ReadAsync(CircuitId, CancellationToken.None)).Snapshot;

        await FailAsync(cachedProcess, 1);

        Assert.Equal(StoredCircuitState.Open, opened.State);
        Assert.Equal(opened, (await _shared.ReadAsync(CircuitId, CancellationToken.None)).Snapshot);
    }

    [Fact]
    public async Task Acquire_AtomicTransitionLandsButStoreCallFails_RejectsThenNextCallOfThisProcessIsTheProbe()
    {
        await _shared.WriteAsync(CircuitId, new CircuitSnapshot { State = StoredCircuitState.Open, FailureCount = 5, NextAttemptUnixMs = Now - 1 }, CancellationToken.None);
        var pipeline = Build(new LandsThenThrowsStore(_shared), CircuitConsistency.Atomic, cacheTtl: TimeSpan.Zero, successThreshold: 1);
        var other = Build(new SeparateCacheStore(_shared), CircuitConsistency.Atomic, cacheTtl: TimeSpan.Zero, successThreshold: 1);
        var calls = 0;

        // Not knowing whether it holds the lease, the call must not probe: one lost answer per environment would be a probe storm.
        await Assert.ThrowsAsync<BrokenCircuitException>(async () => await pipeline.ExecuteAsync(_ => new ValueTask<int>(++calls)));
        Assert.Equal(0, calls);
        await Assert.ThrowsAsync<BrokenCircuitException>(async () => await other.ExecuteAsync(_ => new ValueTask<int>(++calls)));

        // A lost answer is pressure: the process reads again once its read interval has passed. It then finds its own
        // lease, and that call is the probe.
        _time.Advance(TimeSpan.FromSeconds(3));
        await pipeline.ExecuteAsync(_ => new ValueTask<int>(++calls));

        Assert.Equal(1, calls);
        Assert.Equal(StoredCircuitState.Closed, (await _shared.ReadAsync(CircuitId, CancellationToken.None)).Snapshot.State);
    }

    [Fact]
    public async Task Acquire_AtomicTransitionRetriedByStoreClient_ConflictWithOwnWriteIsTheProbe()
    {
        await _shared.WriteAsync(CircuitId, new CircuitSnapshot { State = StoredCircuitState.Open, FailureCount = 5, NextAttemptUnixMs = Now - 1 }, CancellationToken.None);
        var halfOpened = 0;
        var pipeline = Build(new LandsThenReportsConflictStore(_shared), CircuitConsistency.Atomic, cacheTtl: TimeSpan.Zero, successThreshold: 1, onHalfOpened: () => halfOpened++);

        await pipeline.ExecuteAsync(_ => default);

        Assert.Equal(1, halfOpened);
        Assert.Equal(StoredCircuitState.Closed, (await _shared.ReadAsync(CircuitId, CancellationToken.None)).Snapshot.State);
    }

    [Fact]
    public async Task Acquire_OnHalfOpenedThrows_LeaseIsGivenBack()
    {
        await _shared.WriteAsync(CircuitId, new CircuitSnapshot { State = StoredCircuitState.Open, FailureCount = 5, NextAttemptUnixMs = Now - 1 }, CancellationToken.None);
        var pipeline = Build(_shared, CircuitConsistency.Atomic, cacheTtl: TimeSpan.Zero, onHalfOpened: () => throw new InvalidOperationException("callback failed"));

        await Assert.ThrowsAsync<InvalidOperationException>(async () => await pipeline.ExecuteAsync(_ => default));

        await Eventually.TrueAsync(async () => (await _shared.ReadAsync(CircuitId, CancellationToken.None)).Snapshot is { State: StoredCircuitState.HalfOpen, ProbeLeaseOwner: null });
    }

    [Fact]
    public async Task Execute_ShouldHandleThrowsForProbe_LeaseIsGivenBack()
    {
        await _shared.WriteAsync(CircuitId, new CircuitSnapshot { State = StoredCircuitState.HalfOpen, FailureCount = 5 }, CancellationToken.None);
        var pipeline = new ResiliencePipelineBuilder { TimeProvider = _time }
            .AddDistributedCircuitBreaker(new DistributedCircuitBreakerStrategyOptions
            {
                CircuitId = CircuitId,
                StateStore = _shared,
                Consistency = CircuitConsistency.Atomic,
                ShouldHandle = _ => throw new InvalidOperationException("predicate failed"),
            })
            .Build();

        await Assert.ThrowsAsync<InvalidOperationException>(async () => await pipeline.ExecuteAsync(_ => default));

        // The lease is given back without making the caller wait.
        await Eventually.TrueAsync(async () => (await _shared.ReadAsync(CircuitId, CancellationToken.None)).Snapshot.ProbeLeaseOwner is null);
    }

    [Fact]
    public async Task Acquire_AtomicLeaseFarInTheFuture_IsTakenOverAsCorrupt()
    {
        await _shared.WriteAsync(CircuitId, new CircuitSnapshot
        {
            State = StoredCircuitState.HalfOpen,
            ProbeLeaseOwner = "corrupt",
            ProbeLeaseExpiresUnixMs = Now + 1_000_000_000_000,
        }, CancellationToken.None);
        var pipeline = Build(_shared, CircuitConsistency.Atomic, cacheTtl: TimeSpan.Zero, successThreshold: 1);

        await pipeline.ExecuteAsync(_ => default);

        Assert.Equal(StoredCircuitState.Closed, (await _shared.ReadAsync(CircuitId, CancellationToken.None)).Snapshot.State);
    }

    [Fact]
    public async Task Acquire_ForeignNextAttemptFarAhead_RejectsWithBoundedRetryAfter()
    {
        await _shared.WriteAsync(CircuitId, new CircuitSnapshot { State = StoredCircuitState.Open, NextAttemptUnixMs = Now + 100_000_000_000_000 }, CancellationToken.None);
        var pipeline = Build(_shared, CircuitConsistency.LastWriterWins, cacheTtl: TimeSpan.Zero);

        var rejection = await Assert.ThrowsAsync<BrokenCircuitException>(async () => await pipeline.ExecuteAsync(_ => default));

        Assert.Equal(TimeSpan.FromDays(365), rejection.RetryAfter);
    }

    [Fact]
    public async Task Execute_LastWriterWinsCountsOverwrittenByTheFleet_ThisEnvironmentStopsAtTheThreshold()
    {
        var store = new OverwrittenCountsStore(_shared, () => Now);
        var pipeline = Build(store, CircuitConsistency.LastWriterWins, cacheTtl: TimeSpan.Zero);

        var reached = await CallDeadDependencyAsync(pipeline, 20);

        Assert.Equal(5, reached);
        Assert.Equal(0, (await _shared.ReadAsync(CircuitId, CancellationToken.None)).Snapshot.FailureCount);
    }

    [Fact]
    public async Task Execute_AtomicCountsRefusedWhileReadsWork_ThisEnvironmentStopsAtTheThreshold()
    {
        var pipeline = Build(new RefusedCountsStore(_shared), CircuitConsistency.Atomic, cacheTtl: TimeSpan.Zero);

        var reached = await CallDeadDependencyAsync(pipeline, 20);

        Assert.Equal(5, reached);
    }

    [Fact]
    public async Task Execute_LocalBreakEnds_OneProbeThenClosesOnItsSuccess()
    {
        var pipeline = Build(new RefusedCountsStore(_shared), CircuitConsistency.Atomic, cacheTtl: TimeSpan.Zero);
        await CallDeadDependencyAsync(pipeline, 5);

        _time.Advance(TimeSpan.FromSeconds(10));
        var release = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        var probe = pipeline.ExecuteAsync(async _ => await release.Task).AsTask();
        await Assert.ThrowsAsync<BrokenCircuitException>(async () => await pipeline.ExecuteAsync(_ => new ValueTask<int>(0)));
        release.SetResult(1);
        await probe;

        Assert.Equal(7, await pipeline.ExecuteAsync(_ => new ValueTask<int>(7)));
    }

    [Theory]
    [InlineData(CircuitConsistency.Atomic)]
    [InlineData(CircuitConsistency.LastWriterWins)]
    public async Task Execute_FailuresOpenTheCircuit_ItemNamesTheEnvironmentAndTheExceptionTypeButNoMessage(CircuitConsistency consistency)
    {
        var pipeline = Build(_shared, consistency, cacheTtl: TimeSpan.Zero);

        for (var i = 0; i < 5; i++)
        {
            await Assert.ThrowsAsync<HttpRequestException>(async () => await pipeline.ExecuteAsync<int>(_ => throw new HttpRequestException("user 4711 not found")));
        }

        var stored = (await _shared.ReadAsync(CircuitId, CancellationToken.None)).Snapshot;
        Assert.Equal(StoredCircuitState.Open, stored.State);
        Assert.Equal(DistributedCircuitBreakerEnvironment.Id, stored.OpenedBy);
        Assert.Equal(nameof(HttpRequestException), stored.OpenedReason);
    }

    [Fact]
    public async Task Execute_HandledHttpResponseOpensTheCircuit_ItemNamesTheStatus()
    {
        var pipeline = new ResiliencePipelineBuilder<HttpResponseMessage> { TimeProvider = _time }
            .AddDistributedCircuitBreaker(new DistributedCircuitBreakerStrategyOptions<HttpResponseMessage>
            {
                CircuitId = CircuitId,
                StateStore = _shared,
                Consistency = CircuitConsistency.Atomic,
                FailureThreshold = 1,
                ShouldHandle = args => new ValueTask<bool>(args.Outcome.Result?.StatusCode == System.Net.HttpStatusCode.ServiceUnavailable),
            })
            .Build();

        using var unavailable = await pipeline.ExecuteAsync(_ => new ValueTask<HttpResponseMessage>(new HttpResponseMessage(System.Net.HttpStatusCode.ServiceUnavailable)));

        Assert.Equal("HTTP 503", (await _shared.ReadAsync(CircuitId, CancellationToken.None)).Snapshot.OpenedReason);
    }

    private static async Task<int> CallDeadDependencyAsync(ResiliencePipeline pipeline, int calls)
    {
        var reached = 0;
        for (var i = 0; i < calls; i++)
        {
            await Assert.ThrowsAnyAsync<Exception>(async () => await pipeline.ExecuteAsync<int>(_ =>
            {
                reached++;
                throw new HttpRequestException("dead");
            }));
        }

        return reached;
    }

    private ResiliencePipeline Build(
        ICircuitStateStore store,
        CircuitConsistency consistency,
        TimeSpan cacheTtl,
        int successThreshold = 2,
        Action? onHalfOpened = null) =>
        new ResiliencePipelineBuilder { TimeProvider = _time }
            .AddDistributedCircuitBreaker(new DistributedCircuitBreakerStrategyOptions
            {
                CircuitId = CircuitId,
                StateStore = store,
                Consistency = consistency,
                CacheTtl = cacheTtl,
                SuccessThreshold = successThreshold,
                OnHalfOpened = _ =>
                {
                    onHalfOpened?.Invoke();
                    return default;
                },
            })
            .Build();

    private static async Task FailAsync(ResiliencePipeline pipeline, int times)
    {
        for (var i = 0; i < times; i++)
        {
            await Assert.ThrowsAnyAsync<Exception>(async () => await pipeline.ExecuteAsync<int>(_ => throw new HttpRequestException()));
        }
    }

    /// <summary>A store of its own instance, as another process has, so that it gets a cache of its own.</summary>
    private class SeparateCacheStore(ICircuitStateStore inner) : ICircuitStateStore
    {
        public virtual ValueTask<StoredCircuit> ReadAsync(string circuitId, CancellationToken cancellationToken) => inner.ReadAsync(circuitId, cancellationToken);

        public virtual ValueTask<bool> WriteAsync(string circuitId, CircuitSnapshot snapshot, CancellationToken cancellationToken) => inner.WriteAsync(circuitId, snapshot, cancellationToken);

        public virtual ValueTask<CircuitWriteResult> TryReplaceAsync(string circuitId, StoredCircuit expected, CircuitSnapshot replacement, CancellationToken cancellationToken) =>
            inner.TryReplaceAsync(circuitId, expected, replacement, cancellationToken);

        public ValueTask<CircuitWriteResult> TryClaimProbeAsync(string circuitId, string owner, long leaseExpiresUnixMs, long nowUnixMs, CancellationToken cancellationToken) =>
            inner.TryClaimProbeAsync(circuitId, owner, leaseExpiresUnixMs, nowUnixMs, cancellationToken);

        public virtual ValueTask<CircuitIncrementResult> TryIncrementFailureAsync(string circuitId, CircuitFailureIncrement increment, CancellationToken cancellationToken) =>
            inner.TryIncrementFailureAsync(circuitId, increment, cancellationToken);
    }

    /// <summary>Reads keep returning what was stored when they were frozen, as a lagging replica does.</summary>
    private sealed class StaleReadStore(ICircuitStateStore inner) : SeparateCacheStore(inner)
    {
        private readonly ICircuitStateStore _inner = inner;
        private StoredCircuit? _frozen;

        public async Task FreezeReadsAsync() => _frozen = await _inner.ReadAsync(CircuitId, CancellationToken.None);

        public override ValueTask<StoredCircuit> ReadAsync(string circuitId, CancellationToken cancellationToken) =>
            _frozen is { } frozen ? new(frozen) : base.ReadAsync(circuitId, cancellationToken);
    }

    /// <summary>Applies a conditional write, then answers as a store client's automatic retry of it would: a conflict with itself.</summary>
    private sealed class LandsThenReportsConflictStore(ICircuitStateStore inner) : SeparateCacheStore(inner)
    {
        private readonly ICircuitStateStore _inner = inner;
        private bool _conflicted;

        public override async ValueTask<CircuitWriteResult> TryReplaceAsync(string circuitId, StoredCircuit expected, CircuitSnapshot replacement, CancellationToken cancellationToken)
        {
            var result = await base.TryReplaceAsync(circuitId, expected, replacement, cancellationToken);
            if (!_conflicted && result.Succeeded)
            {
                _conflicted = true;
                return new CircuitWriteResult(false, await _inner.ReadAsync(circuitId, cancellationToken));
            }

            return result;
        }
    }

    /// <summary>Applies a conditional write, then fails as a timed-out network call does.</summary>
    private sealed class LandsThenThrowsStore(ICircuitStateStore inner) : SeparateCacheStore(inner)
    {
        private bool _thrown;

        public override async ValueTask<CircuitWriteResult> TryReplaceAsync(string circuitId, StoredCircuit expected, CircuitSnapshot replacement, CancellationToken cancellationToken)
        {
            var result = await base.TryReplaceAsync(circuitId, expected, replacement, cancellationToken);
            if (!_thrown)
            {
                _thrown = true;
                throw new TimeoutException("the answer was lost");
            }

            return result;
        }
    }

    /// <summary>Every write of this process is overwritten at once by the rest of a busy fleet, which keeps the count at zero.</summary>
    private sealed class OverwrittenCountsStore(ICircuitStateStore inner, Func<long> now) : SeparateCacheStore(inner)
    {
        private readonly ICircuitStateStore _inner = inner;

        public override async ValueTask<bool> WriteAsync(string circuitId, CircuitSnapshot snapshot, CancellationToken cancellationToken)
        {
            var written = await base.WriteAsync(circuitId, snapshot, cancellationToken);
            await _inner.WriteAsync(circuitId, CircuitSnapshot.Initial with { StateTimestampUnixMs = Math.Max(now(), snapshot.StateTimestampUnixMs) + 1 }, cancellationToken);
            return written;
        }
    }

    /// <summary>Reads are answered; every count is refused, as by a throttled item.</summary>
    private sealed class RefusedCountsStore(ICircuitStateStore inner) : SeparateCacheStore(inner)
    {
        public override ValueTask<CircuitIncrementResult> TryIncrementFailureAsync(string circuitId, CircuitFailureIncrement increment, CancellationToken cancellationToken) =>
            throw new CircuitStateStoreException("ProvisionedThroughputExceededException");
    }
}
