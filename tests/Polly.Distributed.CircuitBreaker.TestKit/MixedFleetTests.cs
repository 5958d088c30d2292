using System.Globalization;
using Polly.CircuitBreaker;
using Xunit;

namespace Polly.Distributed.CircuitBreaker.TestKit;

/// <summary>
/// .NET breakers sharing one item with the Node.js library, which writes its eight attributes with
/// <c>UpdateItem ... SET</c> (leaving the lease attributes on the item) and lets every call through while half-open.
/// Derive once per store.
/// </summary>
public abstract class MixedFleetTests
{
    /// <summary>Sets exactly the given attributes of a circuit's item, leaving the others, as another writer does.</summary>
    /// <param name="circuitId">The circuit id.</param>
    /// <param name="attributes">Name, stored text, and whether the attribute is a number.</param>
    protected abstract Task SetAttributesAsync(string circuitId, IReadOnlyList<(string Name, string Text, bool IsNumber)> attributes);

    /// <summary>Creates the store one .NET environment uses.</summary>
    protected abstract ICircuitStateStore CreateStore();

    [Fact]
    public async Task Execute_LeaseLeftFromEarlierEpisodeAfterNodeReopened_DotNetProbesAtOnce()
    {
        var circuitId = NewCircuitId();
        var now = Now();
        await WriteAsNodeAsync(circuitId, "OPEN", failureCount: 5, nextAttempt: now - 60_000);
        await SetAttributesAsync(circuitId, [("probeLeaseOwner", "dotnet-probe-of-last-episode", false), ("probeLeaseExpires", Number(now + 25_000), true), ("probeLeaseEpisode", Number(now - 60_000), true)]);

        // Node closed, opened and half-opened again meanwhile, writing only its eight attributes.
        await WriteAsNodeAsync(circuitId, "HALF-OPEN", failureCount: 5, nextAttempt: now - 1_000);
        var calls = 0;

        await Build(circuitId).ExecuteAsync(_ => new ValueTask<int>(++calls));

        Assert.Equal(1, calls);
    }

    [Fact]
    public async Task Execute_NodeClosesWhileDotNetProbeRuns_ProbeRemovesItsLeaseAndNextEpisodeProbes()
    {
        var circuitId = NewCircuitId();
        await WriteAsNodeAsync(circuitId, "OPEN", failureCount: 5, nextAttempt: Now() - 1);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var pipeline = Build(circuitId);

        var probe = pipeline.ExecuteAsync(async _ =>
        {
            started.SetResult();
            await release.Task;
            return 1;
        }).AsTask();
        await started.Task;
        await WriteAsNodeAsync(circuitId, "CLOSED", failureCount: 0, nextAttempt: 0);
        release.SetResult();
        await probe;

        Assert.Null((await CreateStore().ReadAsync(circuitId, CancellationToken.None)).Snapshot.ProbeLeaseOwner);
        await WriteAsNodeAsync(circuitId, "HALF-OPEN", failureCount: 5, nextAttempt: Now() - 1);
        var calls = 0;
        await Build(circuitId).ExecuteAsync(_ => new ValueTask<int>(++calls));
        Assert.Equal(1, calls);
    }

    [Fact]
    public async Task Execute_NodeOpenWithFractionalNextAttempt_Rejects()
    {
        var circuitId = NewCircuitId();
        await SetAttributesAsync(circuitId, [("circuitState", "OPEN", false), ("nextAttempt", (Now() + 20_000).ToString(CultureInfo.InvariantCulture) + ".5", true), ("failureCount", "5", true)]);

        await Assert.ThrowsAsync<BrokenCircuitException>(async () => await Build(circuitId).ExecuteAsync(_ => new ValueTask<int>(1)));

        Assert.Equal(StoredCircuitState.Open, (await CreateStore().ReadAsync(circuitId, CancellationToken.None)).Snapshot.State);
    }

    [Fact]
    public async Task Execute_NodeHalfOpenWithDotNetProbeInFlight_OtherDotNetCallsWaitForIt()
    {
        var circuitId = NewCircuitId();
        await WriteAsNodeAsync(circuitId, "OPEN", failureCount: 5, nextAttempt: Now() - 1);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var probe = Build(circuitId).ExecuteAsync(async _ =>
        {
            started.SetResult();
            await release.Task;
            return 1;
        }).AsTask();
        await started.Task;

        // A Node call in the same episode counts a success: the .NET lease stays valid, so other .NET calls still wait.
        var stored = (await CreateStore().ReadAsync(circuitId, CancellationToken.None)).Snapshot;
        await SetAttributesAsync(circuitId, [("successCount", "1", true), ("stateTimestamp", Number(Now()), true)]);
        await Assert.ThrowsAsync<BrokenCircuitException>(async () => await Build(circuitId).ExecuteAsync(_ => new ValueTask<int>(2)));

        release.SetResult();
        await probe;
        Assert.Equal(StoredCircuitState.HalfOpen, stored.State);
    }

    [Fact]
    public async Task Execute_IsolatedByDotNet_NodeSeesOpenUntilTheEndOfTimeAndItsCloseEndsIt()
    {
        var circuitId = NewCircuitId();
        var control = new DistributedCircuitBreakerManualControl();
        var pipeline = new ResiliencePipelineBuilder()
            .AddDistributedCircuitBreaker(new DistributedCircuitBreakerStrategyOptions { CircuitId = circuitId, StateStore = CreateStore(), Consistency = CircuitConsistency.Atomic, ManualControl = control })
            .Build();

        await control.IsolateAsync();

        var stored = (await CreateStore().ReadAsync(circuitId, CancellationToken.None)).Snapshot;
        Assert.Equal(StoredCircuitState.Open, stored.State);
        Assert.Equal(CircuitSnapshot.IsolatedUntilUnixMs, stored.NextAttemptUnixMs);
        await Assert.ThrowsAsync<IsolatedCircuitException>(async () => await pipeline.ExecuteAsync(_ => new ValueTask<int>(1)));

        // A Node call that was in flight writes its earlier state back (README documents this).
        await WriteAsNodeAsync(circuitId, "CLOSED", failureCount: 0, nextAttempt: 0);
        Assert.Equal(1, await pipeline.ExecuteAsync(_ => new ValueTask<int>(1)));
    }

    [Fact]
    public async Task Execute_NodeOpensThenDotNetProbeCloses_NodeReadsClosed()
    {
        var circuitId = NewCircuitId();
        await WriteAsNodeAsync(circuitId, "OPEN", failureCount: 5, nextAttempt: Now() + 60_000);
        await Assert.ThrowsAsync<BrokenCircuitException>(async () => await Build(circuitId).ExecuteAsync(_ => new ValueTask<int>(1)));

        await WriteAsNodeAsync(circuitId, "OPEN", failureCount: 5, nextAttempt: Now() - 1);
        var pipeline = Build(circuitId);
        for (var i = 0; i < 5; i++)
        {
            await pipeline.ExecuteAsync(_ => new ValueTask<int>(1));
        }

        var stored = (await CreateStore().ReadAsync(circuitId, CancellationToken.None)).Snapshot;
        Assert.Equal(StoredCircuitState.Closed, stored.State);
        Assert.Null(stored.ProbeLeaseOwner);
    }

    protected static string NewCircuitId() => "mixed-" + Guid.NewGuid().ToString("N");

    protected static long Now() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    protected static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>The Node library's write: its eight attributes, nothing else.</summary>
    protected Task WriteAsNodeAsync(string circuitId, string state, long failureCount, long nextAttempt) =>
        SetAttributesAsync(
            circuitId,
            [
                ("circuitState", state, false),
                ("failureCount", Number(failureCount), true),
                ("successCount", "0", true),
                ("nextAttempt", Number(nextAttempt), true),
                ("lastFailureTime", Number(Now() - 100), true),
                ("consecutiveOpens", "0", true),
                ("stateTimestamp", Number(Now()), true),
                ("schemaVersion", "1", true),
            ]);

    protected ResiliencePipeline Build(string circuitId) =>
        new ResiliencePipelineBuilder()
            .AddDistributedCircuitBreaker(new DistributedCircuitBreakerStrategyOptions
            {
                CircuitId = circuitId,
                StateStore = CreateStore(),
                Consistency = CircuitConsistency.Atomic,
                SuccessThreshold = 5,
                StoreTimeout = TimeSpan.FromSeconds(5),
            })
            .Build();
}
