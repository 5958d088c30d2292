using Microsoft.Extensions.Time.Testing;
using Polly.CircuitBreaker;

namespace Polly.Distributed.CircuitBreaker.Tests.Controller;

public class LastWriterWinsProtocolTests
{
    private const string CircuitId = "orders";
    private static readonly DateTimeOffset Start = DateTimeOffset.FromUnixTimeMilliseconds(1_750_000_000_000);
    private readonly InMemoryCircuitStateStore _shared = new();

    [Fact]
    public async Task Record_ClockBehindTheLastWriter_OpensTheStoredCircuitAndRaisesOnOpenedForIt()
    {
        var ahead = Build(new InterceptingStore(_shared), new FakeTimeProvider(Start + TimeSpan.FromSeconds(10)), out _);
        var behind = Build(new InterceptingStore(_shared), new FakeTimeProvider(Start), out var behindOpened);

        await FailAsync(ahead);
        await FailAsync(behind);

        // Whatever the clocks say, an OnOpened is raised only for an OPEN that is in the store.
        Assert.Equal(StoredCircuitState.Open, (await ReadAsync()).State);
        Assert.Equal(1, behindOpened());
    }

    [Fact]
    public async Task Record_NewerStateStoredBetweenReadAndWrite_RaisesNothingAndCountsOnTheStoredState()
    {
        var time = new FakeTimeProvider(Start);
        var store = new InterceptingStore(_shared);
        var pipeline = Build(store, time, out var opened);
        await FailAsync(pipeline);

        // Another process closes the circuit, stamped later, after this process read the count of 1 and before it writes the opening.
        var closedElsewhere = CircuitSnapshot.Initial with { StateTimestampUnixMs = time.GetUtcNow().ToUnixTimeMilliseconds() + 60_000 };
        store.BeforeWrite = async () => await _shared.WriteAsync(CircuitId, closedElsewhere, CancellationToken.None);
        await FailAsync(pipeline);

        var stored = await ReadAsync();
        Assert.Equal(0, opened());
        Assert.Equal(StoredCircuitState.Closed, stored.State);
        Assert.Equal(1, stored.FailureCount);
        Assert.True(stored.StateTimestampUnixMs > closedElsewhere.StateTimestampUnixMs);
    }

    [Fact]
    public async Task Acquire_HalfOpenWriteSkippedForANewerStoredState_RaisesNothingAndDecidesOnTheStoredState()
    {
        var time = new FakeTimeProvider(Start);
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        await _shared.WriteAsync(CircuitId, new CircuitSnapshot { State = StoredCircuitState.Open, NextAttemptUnixMs = now - 1, StateTimestampUnixMs = now - 10_000 }, CancellationToken.None);
        var store = new InterceptingStore(_shared);
        var halfOpened = 0;
        var pipeline = Build(store, time, out _, onHalfOpened: () => halfOpened++);

        // Another process re-opens it for a longer break just before this process's half-open write lands.
        var reopened = new CircuitSnapshot { State = StoredCircuitState.Open, NextAttemptUnixMs = now + 20_000, StateTimestampUnixMs = now + 5_000 };
        store.BeforeWrite = async () => await _shared.WriteAsync(CircuitId, reopened, CancellationToken.None);
        var called = false;

        await Assert.ThrowsAsync<Polly.CircuitBreaker.BrokenCircuitException>(async () => await pipeline.ExecuteAsync(_ =>
        {
            called = true;
            return default;
        }));

        Assert.False(called);
        Assert.Equal(0, halfOpened);
        Assert.Equal(reopened, await ReadAsync());
    }

    [Theory]
    [InlineData(CircuitStateStoreFailureKind.Throttled, true)]
    [InlineData(CircuitStateStoreFailureKind.Unreachable, false)]
    public async Task Execute_FailuresTheStoreRefusedUnderPressure_StopAtHalfTheThreshold(CircuitStateStoreFailureKind refusal, bool stopsAtTheSecond)
    {
        var store = new InterceptingStore(_shared) { ReadsFail = true, ReadFailureKind = refusal };
        var pipeline = new ResiliencePipelineBuilder()
            .AddDistributedCircuitBreaker(new DistributedCircuitBreakerStrategyOptions { CircuitId = CircuitId, StateStore = store, FailureThreshold = 4 })
            .Build();

        for (var i = 0; i < 2; i++)
        {
            await Assert.ThrowsAsync<HttpRequestException>(async () => await pipeline.ExecuteAsync<int>(_ => throw new HttpRequestException("down")));
        }

        // Throttled, the store took neither failure and could not say whether the fleet has opened: this process stops at
        // half its threshold. A store that is unreachable is no sign of a fleet failing with it: the threshold stands.
        if (stopsAtTheSecond)
        {
            await Assert.ThrowsAsync<BrokenCircuitException>(async () => await pipeline.ExecuteAsync(_ => new ValueTask<int>(1)));
        }
        else
        {
            Assert.Equal(1, await pipeline.ExecuteAsync(_ => new ValueTask<int>(1)));
        }
    }

    private static ResiliencePipeline Build(ICircuitStateStore store, TimeProvider time, out Func<int> openedCount, Action? onHalfOpened = null)
    {
        var opened = 0;
        openedCount = () => Volatile.Read(ref opened);
        return new ResiliencePipelineBuilder { TimeProvider = time }
            .AddDistributedCircuitBreaker(new DistributedCircuitBreakerStrategyOptions
            {
                CircuitId = CircuitId,
                StateStore = store,
                FailureThreshold = 2,
                OnOpened = _ =>
                {
                    Interlocked.Increment(ref opened);
                    return default;
                },
                OnHalfOpened = _ =>
                {
                    onHalfOpened?.Invoke();
                    return default;
                },
            })
            .Build();
    }

    private static async Task FailAsync(ResiliencePipeline pipeline) =>
        await Assert.ThrowsAsync<HttpRequestException>(async () => await pipeline.ExecuteAsync<int>(_ => throw new HttpRequestException("down")));

    private async Task<CircuitSnapshot> ReadAsync() => (await _shared.ReadAsync(CircuitId, CancellationToken.None)).Snapshot;
}
