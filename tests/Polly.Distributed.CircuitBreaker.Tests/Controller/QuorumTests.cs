using Polly.CircuitBreaker;

namespace Polly.Distributed.CircuitBreaker.Tests.Controller;

/// <summary>One sick environment cannot open a fleet's circuit: it opens its own; enough sick environments open the fleet's once.</summary>
public class QuorumTests
{
    private const string CircuitId = "quorum";
    private readonly InMemoryCircuitStateStore _shared = new();
    private int _fleetOpenings;

    [Fact]
    public async Task Execute_OneSickEnvironment_OpensOnlyItsOwnCircuitAndTheFleetCallsOn()
    {
        var sick = Environment("sick");
        var healthy = Enumerable.Range(0, 5).Select(i => Environment($"healthy-{i}")).ToArray();

        var reached = await CallDeadDependencyAsync(sick, 20);
        foreach (var environment in healthy)
        {
            Assert.Equal(1, await environment.ExecuteAsync(_ => new ValueTask<int>(1)));
        }

        Assert.Equal(5, reached);
        Assert.Equal(0, _fleetOpenings);
        Assert.Equal(StoredCircuitState.Closed, (await _shared.ReadAsync(CircuitId, CancellationToken.None)).Snapshot.State);
    }

    [Fact]
    public async Task Execute_QuorumOfSickEnvironments_OpensTheFleetCircuitOnce()
    {
        var sick = Enumerable.Range(0, 3).Select(i => Environment($"sick-{i}")).ToArray();
        var healthy = Environment("healthy");

        foreach (var environment in sick)
        {
            await CallDeadDependencyAsync(environment, 2);
        }

        Assert.Equal(1, _fleetOpenings);
        Assert.Equal(StoredCircuitState.Open, (await _shared.ReadAsync(CircuitId, CancellationToken.None)).Snapshot.State);
        await Assert.ThrowsAsync<BrokenCircuitException>(async () => await healthy.ExecuteAsync(_ => new ValueTask<int>(1)));
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

    private ResiliencePipeline Environment(string id) =>
        new ResiliencePipelineBuilder()
            .AddDistributedCircuitBreaker(new DistributedCircuitBreakerStrategyOptions
            {
                CircuitId = CircuitId,
                StateStore = new InterceptingStore(_shared),
                Consistency = CircuitConsistency.Atomic,
                FailureThreshold = 5,
                MinimumFailingEnvironments = 3,
                BreakDuration = TimeSpan.FromSeconds(30),
                EnvironmentId = id,
                OnOpened = _ =>
                {
                    Interlocked.Increment(ref _fleetOpenings);
                    return default;
                },
            })
            .Build();
}
