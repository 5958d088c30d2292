using Polly.Distributed.CircuitBreaker;

namespace Polly.Distributed.Benchmarks;

/// <summary>
/// One run of the quorum simulation: every environment has a pipeline of its own (for the distributed breaker, its own
/// store instance and environment id) and calls the dependency in a loop for <see cref="Duration"/>; the sick ones' calls fail.
/// </summary>
internal sealed class QuorumRun
{
    public const int Environments = 50;
    public const int Threshold = 5;
    public const int Quorum = 3;
    public static readonly TimeSpan BreakDuration = TimeSpan.FromSeconds(2);
    public static readonly TimeSpan Duration = TimeSpan.FromSeconds(5);

    private readonly QuorumEnvironment[] _environments;
    private readonly LocalOpeningCounter _localOpenings = new();
    private readonly List<long> _fleetOpenedAtMs = [];
    private Task<long>? _firstFleetBreakEnds;
    private long _startedAtMs;
    private long _pollyOpenings;

    private QuorumRun(QuorumScenario scenario)
    {
        _environments = [.. Enumerable.Range(0, Environments).Select(environment => new QuorumEnvironment(environment < scenario.SickEnvironments))];
    }

    /// <summary>Polly's own breaker in every environment, sharing nothing.</summary>
    public static Task<QuorumResult> RunPollyAsync(QuorumScenario scenario)
    {
        var run = new QuorumRun(scenario);
        return run.RunAsync(run._environments.Select(run.BuildPolly).ToArray(), fleet: false);
    }

    /// <summary>The distributed breaker in Atomic mode, each environment on its own instance of one store.</summary>
    public static Task<QuorumResult> RunDistributedAsync(QuorumScenario scenario, Func<ICircuitStateStore> newStore, int minimumFailingEnvironments)
    {
        var run = new QuorumRun(scenario);
        var circuitId = $"quorum-{Guid.NewGuid():N}";
        var pipelines = Enumerable.Range(0, Environments).Select(environment => run.BuildDistributed(newStore, circuitId, environment, minimumFailingEnvironments)).ToArray();
        return run.RunAsync(pipelines, fleet: true);
    }

    private async Task<QuorumResult> RunAsync(ResiliencePipeline[] pipelines, bool fleet)
    {
        _startedAtMs = QuorumEnvironment.NowMs();
        var until = _startedAtMs + (long)Duration.TotalMilliseconds;
        await FleetRunner.RunTogetherAsync(Enumerable.Range(0, Environments), environment => _environments[environment].RunAsync(pipelines[environment], until));
        if (_firstFleetBreakEnds is not null)
        {
            var firstBreakEnds = await _firstFleetBreakEnds;
            foreach (var environment in _environments)
            {
                environment.FirstBreakEndsAtMs = firstBreakEnds;
            }
        }

        return Result(fleet);
    }

    private QuorumResult Result(bool fleet)
    {
        var healthy = _environments.Where(environment => !environment.Sick).ToArray();
        var sick = _environments.Where(environment => environment.Sick).ToArray();
        var breakMs = (long)BreakDuration.TotalMilliseconds;
        var firstBreakEnds = _environments.Min(environment => environment.FirstBreakEndsAtMs);
        return new QuorumResult(
            fleet ? _fleetOpenedAtMs.Count : null,
            fleet ? _fleetOpenedAtMs.Count(at => at < firstBreakEnds) : null,
            fleet ? _localOpenings.Count : Interlocked.Read(ref _pollyOpenings),
            healthy.Sum(environment => environment.Calls + environment.Rejections),
            healthy.Sum(environment => environment.Rejections),
            healthy.Count(environment => environment.Rejections > 0),
            sick.Max(environment => environment.MostFailuresPerEpisode),
            [.. sick.Select(environment => environment.ProbesAtMs.Count)],
            [.. sick.SelectMany(ProbeGaps)],
            _fleetOpenedAtMs.Count == 0 ? null : _fleetOpenedAtMs.Min() - _startedAtMs,
            sick.Sum(environment => environment.DependencyCallsBetween(0, environment.FirstBreakEndsAtMs)),
            sick.Sum(environment => environment.FirstBreakEndsAtMs == QuorumEnvironment.Never ? 0 : environment.DependencyCallsBetween(environment.FirstBreakEndsAtMs, environment.FirstBreakEndsAtMs + breakMs)),
            sick.Sum(environment => environment.DependencyCallsBetween(0, long.MaxValue)));
    }

    private static IEnumerable<long> ProbeGaps(QuorumEnvironment environment)
    {
        var previous = environment.FirstRejectedAtMs;
        foreach (var probe in environment.ProbesAtMs)
        {
            yield return probe - previous;
            previous = probe;
        }
    }

    private ResiliencePipeline BuildPolly(QuorumEnvironment environment)
    {
        var options = PollyBaseline.Options(Threshold, BreakDuration);
        options.OnOpened = _ =>
        {
            Interlocked.Increment(ref _pollyOpenings);
            if (environment.FirstBreakEndsAtMs == QuorumEnvironment.Never)
            {
                environment.FirstBreakEndsAtMs = QuorumEnvironment.NowMs() + (long)BreakDuration.TotalMilliseconds;
            }

            return default;
        };
        return new ResiliencePipelineBuilder().AddCircuitBreaker(options).Build();
    }

    private ResiliencePipeline BuildDistributed(Func<ICircuitStateStore> newStore, string circuitId, int environment, int minimumFailingEnvironments) =>
        new ResiliencePipelineBuilder()
            .AddDistributedCircuitBreaker(new DistributedCircuitBreakerStrategyOptions
            {
                CircuitId = circuitId,
                StateStore = newStore(),
                Consistency = CircuitConsistency.Atomic,
                FailureThreshold = Threshold,
                SuccessThreshold = 1,
                BreakDuration = BreakDuration,
                MaxBreakDuration = BreakDuration,
                MinimumFailingEnvironments = minimumFailingEnvironments,
                EnvironmentId = $"environment-{environment}",
                OnOpened = _ =>
                {
                    OnFleetOpened(newStore, circuitId);
                    return default;
                },
            })
            .ConfigureTelemetry(_localOpenings.Telemetry)
            .Build();

    // The first opening's nextAttempt, read from the store while the circuit is still in that break.
    private void OnFleetOpened(Func<ICircuitStateStore> newStore, string circuitId)
    {
        var now = QuorumEnvironment.NowMs();
        lock (_fleetOpenedAtMs)
        {
            _fleetOpenedAtMs.Add(now);
            _firstFleetBreakEnds ??= ReadBreakEndAsync(newStore(), circuitId, now);
        }
    }

    private static async Task<long> ReadBreakEndAsync(ICircuitStateStore store, string circuitId, long openedAtMs)
    {
        var snapshot = (await store.ReadAsync(circuitId, CancellationToken.None)).Snapshot;
        return snapshot.State == StoredCircuitState.Open ? snapshot.NextAttemptUnixMs : openedAtMs + (long)BreakDuration.TotalMilliseconds;
    }
}
