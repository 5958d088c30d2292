using Microsoft.Extensions.Time.Testing;
using Polly.CircuitBreaker;
using Xunit;

namespace Polly.Distributed.CircuitBreaker.TestKit;

/// <summary>
/// The store requests each kind of call costs, counted by the real server (or on the wire), not by the breaker.
/// The Node library reads and writes on every call; this breaker writes only when the state changes or a failure counts.
/// Derive once per store.
/// </summary>
public abstract class StoreRoundTripTests
{
    private readonly FakeTimeProvider _time = new();

    /// <summary>Gets the store under test, whose requests <see cref="CountAsync"/> counts.</summary>
    protected abstract ICircuitStateStore Store { get; }

    /// <summary>Gets the requests the server has received from <see cref="Store"/> so far.</summary>
    protected abstract Task<StoreRequests> CountAsync();

    [Theory]
    [InlineData(CircuitConsistency.LastWriterWins)]
    [InlineData(CircuitConsistency.Atomic)]
    public async Task HealthyCall_ClosedUncached_OneReadNoWrite(CircuitConsistency consistency)
    {
        var pipeline = Pipeline(consistency, cacheTtl: TimeSpan.Zero);
        await pipeline.ExecuteAsync(_ => default);

        var cost = await CostAsync(() => pipeline.ExecuteAsync(_ => default).AsTask());

        Assert.Equal(new StoreRequests(1, 0), cost);
    }

    [Fact]
    public async Task HealthyCall_WithinCacheTtl_NoRequest()
    {
        var pipeline = Pipeline(CircuitConsistency.Atomic, cacheTtl: TimeSpan.FromMinutes(1));
        await pipeline.ExecuteAsync(_ => default);

        var cost = await CostAsync(async () =>
        {
            for (var i = 0; i < 10; i++)
            {
                await pipeline.ExecuteAsync(_ => default);
            }
        });

        Assert.Equal(new StoreRequests(0, 0), cost);
    }

    // Atomic: the admission read and one commutative increment. LastWriterWins reads again before it writes the whole
    // state, so that the write starts from the freshest count it can see.
    [Theory]
    [InlineData(CircuitConsistency.LastWriterWins, 2)]
    [InlineData(CircuitConsistency.Atomic, 1)]
    public async Task CountedFailure_BelowThreshold_OneWrite(CircuitConsistency consistency, int reads)
    {
        var pipeline = Pipeline(consistency, cacheTtl: TimeSpan.Zero);

        var cost = await CostAsync(FailAsync(pipeline));

        Assert.Equal(new StoreRequests(reads, 1), cost);
    }

    [Fact]
    public async Task ThresholdFailure_Atomic_CountsAndOpensInOneWrite()
    {
        var pipeline = Pipeline(CircuitConsistency.Atomic, cacheTtl: TimeSpan.Zero);
        for (var i = 0; i < Threshold - 1; i++)
        {
            await FailAsync(pipeline)();
        }

        var cost = await CostAsync(FailAsync(pipeline));

        Assert.Equal(new StoreRequests(1, 1), cost);
        Assert.Equal(StoredCircuitState.Open, (await Store.ReadAsync(_circuitId, CancellationToken.None)).Snapshot.State);
    }

    [Fact]
    public async Task RejectedCall_OpenCircuit_OneReadNoWrite()
    {
        var pipeline = Pipeline(CircuitConsistency.Atomic, cacheTtl: TimeSpan.Zero);
        for (var i = 0; i < Threshold; i++)
        {
            await FailAsync(pipeline)();
        }

        var cost = await CostAsync(() => Assert.ThrowsAsync<BrokenCircuitException>(async () => await pipeline.ExecuteAsync(_ => default)));

        Assert.Equal(new StoreRequests(1, 0), cost);
    }

    [Fact]
    public async Task Probe_Atomic_ClaimAndCloseAreOneConditionalWriteEach()
    {
        var pipeline = Pipeline(CircuitConsistency.Atomic, cacheTtl: TimeSpan.Zero);
        for (var i = 0; i < Threshold; i++)
        {
            await FailAsync(pipeline)();
        }

        _time.Advance(TimeSpan.FromSeconds(10));

        var cost = await CostAsync(() => pipeline.ExecuteAsync(_ => default).AsTask());

        // One read, the claim (OPEN -> HALF-OPEN with this call's lease), and the close.
        Assert.Equal(new StoreRequests(1, 2), cost);
        Assert.Equal(StoredCircuitState.Closed, (await Store.ReadAsync(_circuitId, CancellationToken.None)).Snapshot.State);
    }

    private const int Threshold = 3;

    private readonly string _circuitId = "round-trips-" + Guid.NewGuid().ToString("N");

    private ResiliencePipeline Pipeline(CircuitConsistency consistency, TimeSpan cacheTtl) =>
        new ResiliencePipelineBuilder { TimeProvider = _time }
            .AddDistributedCircuitBreaker(new DistributedCircuitBreakerStrategyOptions
            {
                CircuitId = _circuitId,
                StateStore = Store,
                FailureThreshold = Threshold,
                SuccessThreshold = 1,
                Consistency = consistency,
                CacheTtl = cacheTtl,
                StoreTimeout = TimeSpan.FromSeconds(5),
            })
            .Build();

    private static Func<Task> FailAsync(ResiliencePipeline pipeline) =>
        () => Assert.ThrowsAsync<HttpRequestException>(async () => await pipeline.ExecuteAsync(_ => throw new HttpRequestException("down")));

    // Counted once the wire is quiet before and after the call: a request still on its way from an earlier step (a busy
    // machine delays the proxy) is not charged to this call, and work the call leaves running is.
    private async Task<StoreRequests> CostAsync(Func<Task> call)
    {
        var before = await SettledCountAsync();
        await call();
        return await SettledCountAsync() - before;
    }

    private async Task<StoreRequests> SettledCountAsync()
    {
        var count = await CountAsync();
        for (var i = 0; i < 50; i++)
        {
            await Task.Delay(50);
            var again = await CountAsync();
            if (again == count)
            {
                return count;
            }

            count = again;
        }

        return count;
    }
}
