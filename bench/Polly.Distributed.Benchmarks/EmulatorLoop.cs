using System.Diagnostics;
using Polly.Distributed.CircuitBreaker;

namespace Polly.Distributed.Benchmarks;

/// <summary>
/// One run of the emulator load's loop: <see cref="Environments"/> environments, each with its own pipeline (for the
/// distributed breaker its own store instance, DynamoDB client and environment id), call a dependency that is healthy for
/// the first second, dead until <see cref="HealAtMs"/>, then healthy again until the run ends.
/// </summary>
internal sealed class EmulatorLoop
{
    public const int Environments = 1_000;
    public const int Threshold = 5;
    public const long DeathAtMs = 1_000;
    public const long HealAtMs = 5_000;
    public const long DurationMs = 15_000;

    /// <summary>
    /// The calls to the dead dependency before the first break ended that this loop measured on dynalite before reads
    /// were spaced out under pressure (2,000 to 2,200, every check then waiting out its StoreTimeout): the target allows no more.
    /// </summary>
    public const int DeadCallsBeforeStoreLoadWork = 2_200;

    /// <summary>The environments the store answered in time are those with no store failure this long after the death.</summary>
    public const long AnsweredWindowMs = 1_900;

    public static readonly TimeSpan BreakDuration = TimeSpan.FromSeconds(2);
    public static readonly TimeSpan MaxBreakDuration = TimeSpan.FromSeconds(8);

    /// <summary>Polly's shortest sampling duration: its breaker opens once the successes before the death have left it.</summary>
    public static readonly TimeSpan PollySamplingDuration = TimeSpan.FromMilliseconds(500);

    private readonly long _startedTimestamp = Stopwatch.GetTimestamp();
    private readonly long _startedUnixMs = TimeProvider.System.GetUtcNow().ToUnixTimeMilliseconds();
    private readonly LoopEnvironment[] _environments;
    private readonly List<long> _openedAtMs = [];
    private readonly List<(CircuitStateStoreOperation Operation, long AtMs, double TookMs)> _storeRequests = [];
    private Task<long>? _firstBreakEndsAtMs;

    private EmulatorLoop()
    {
        _environments = [.. Enumerable.Range(0, Environments).Select(_ => new LoopEnvironment(_startedTimestamp))];
    }

    /// <summary>Polly's own breaker in every environment, sharing nothing.</summary>
    public static async Task<LoopResult> RunPollyAsync()
    {
        var run = new EmulatorLoop();
        var pipelines = run._environments.Select(environment =>
        {
            var options = PollyBaseline.Options(Threshold, BreakDuration);

            // Over the default minute the healthy first second's successes keep the failure ratio below 1.0 throughout.
            options.SamplingDuration = PollySamplingDuration;
            options.OnOpened = _ =>
            {
                run.OnOpened(environment);
                return default;
            };
            return new ResiliencePipelineBuilder().AddCircuitBreaker(options).Build();
        }).ToArray();
        await run.RunAsync(pipelines);
        return run.Result(timedStore: false, firstBreakEndsAtMs: null);
    }

    /// <summary>The distributed breaker in Atomic mode, each environment on its own instance of one store.</summary>
    public static async Task<LoopResult> RunDistributedAsync(Func<ICircuitStateStore> newStore, TimeSpan cacheTtl)
    {
        var run = new EmulatorLoop();
        var circuitId = $"loop-{Guid.NewGuid():N}";
        var pipelines = run._environments.Select((environment, index) => new ResiliencePipelineBuilder()
            .AddDistributedCircuitBreaker(new DistributedCircuitBreakerStrategyOptions
            {
                CircuitId = circuitId,
                StateStore = new TimedStore(newStore(), run.OnStoreRequest),
                Consistency = CircuitConsistency.Atomic,
                CacheTtl = cacheTtl,
                FailureThreshold = Threshold,
                SuccessThreshold = 1,
                BreakDuration = BreakDuration,
                MaxBreakDuration = MaxBreakDuration,
                EnvironmentId = $"environment-{index}",
                OnOpened = _ =>
                {
                    run.OnOpened(environment);
                    lock (run._openedAtMs)
                    {
                        run._firstBreakEndsAtMs ??= run.ReadBreakEndAsync(newStore(), circuitId);
                    }

                    return default;
                },
                OnStateStoreFailure = arguments =>
                {
                    environment.OnStoreFailure(arguments);
                    return default;
                },
            })
            .Build()).ToArray();
        await run.RunAsync(pipelines);
        return run.Result(timedStore: true, run._firstBreakEndsAtMs is { } breakEnds ? await breakEnds : null);
    }

    private Task RunAsync(ResiliencePipeline[] pipelines) =>
        FleetRunner.RunTogetherAsync(Enumerable.Range(0, Environments), environment => _environments[environment].RunAsync(pipelines[environment]));

    private void OnOpened(LoopEnvironment environment)
    {
        lock (_openedAtMs)
        {
            _openedAtMs.Add(environment.NowMs());
        }
    }

    private void OnStoreRequest(CircuitStateStoreOperation operation, long startedTimestamp, double tookMs)
    {
        var atMs = (long)Stopwatch.GetElapsedTime(_startedTimestamp, startedTimestamp).TotalMilliseconds;
        lock (_storeRequests)
        {
            _storeRequests.Add((operation, atMs, tookMs));
        }
    }

    // The store requests started in one whole second of the run, the median time they took, and how many were reads and counts.
    private SecondOfRequests RequestsStartedIn(int second)
    {
        (CircuitStateStoreOperation Operation, long AtMs, double TookMs)[] started;
        lock (_storeRequests)
        {
            started = [.. _storeRequests.Where(request => request.AtMs / 1_000 == second)];
        }

        var took = started.Select(request => request.TookMs).Order().ToArray();
        return new SecondOfRequests(
            took.Length,
            took.Length == 0 ? 0 : took[took.Length / 2],
            started.Count(request => request.Operation == CircuitStateStoreOperation.Read),
            started.Count(request => request.Operation == CircuitStateStoreOperation.CountFailure));
    }

    // The first opening's nextAttempt (ms since the run started), read from the store while the circuit is still in that break.
    private async Task<long> ReadBreakEndAsync(ICircuitStateStore store, string circuitId)
    {
        var openedAtMs = (long)Stopwatch.GetElapsedTime(_startedTimestamp).TotalMilliseconds;
        var snapshot = (await store.ReadAsync(circuitId, CancellationToken.None)).Snapshot;
        return snapshot.State == StoredCircuitState.Open ? snapshot.NextAttemptUnixMs - _startedUnixMs
            : snapshot is { State: StoredCircuitState.Closed, FailureCount: >= Threshold } ? snapshot.LastFailureUnixMs + (long)BreakDuration.TotalMilliseconds - _startedUnixMs
            : openedAtMs + (long)BreakDuration.TotalMilliseconds;
    }

    // Calls that reached the dependency in the half-open window up to the first success, which closes the circuit: the
    // shared circuit's first success fleet-wide; with Polly's breakers, each environment's own.
    private int Probes(long windowStartsAtMs, long breakMs, bool sharedCircuit)
    {
        var windowEndsAtMs = windowStartsAtMs + breakMs;
        var closedAtMs = sharedCircuit ? _environments.Select(environment => environment.FirstSuccessAnsweredFrom(windowStartsAtMs)).Min() : null;
        return _environments.Sum(environment => environment.DependencyCallsBetween(
            windowStartsAtMs,
            Math.Min(windowEndsAtMs, (sharedCircuit ? closedAtMs : environment.FirstSuccessAnsweredFrom(windowStartsAtMs)) ?? windowEndsAtMs)));
    }

    /// <param name="timedStore">Whether the run had a store to measure.</param>
    /// <param name="firstBreakEndsAtMs">When the first break ended by the store's clock; for Polly's breaker, the first OnOpened + the break.</param>
    private LoopResult Result(bool timedStore, long? firstBreakEndsAtMs)
    {
        var breakMs = (long)BreakDuration.TotalMilliseconds;
        var firstOpenedAtMs = _openedAtMs.Where(at => at >= DeathAtMs).Select(at => (long?)at).Min();
        var firstBreakEndedAtMs = firstBreakEndsAtMs ?? firstOpenedAtMs + breakMs ?? DurationMs;
        var deadCalls = _environments.Select(environment => environment.DependencyCallsBetween(DeathAtMs, Math.Min(firstBreakEndedAtMs, HealAtMs))).ToArray();
        var answered = _environments.Select(environment => !environment.StoreFailedBetween(DeathAtMs, DeathAtMs + AnsweredWindowMs)).ToArray();
        var seconds = (int)(DurationMs / 1_000);
        var failuresAfterFirstSecond = _environments.SelectMany(environment => environment.StoreFailures).Where(failure => failure.AtMs >= 1_000).ToArray();
        var firstSuccess = _environments.Select(environment => environment.FirstDependencyCallFrom(HealAtMs)).Min();
        return new LoopResult(
            [.. _openedAtMs.Order()],
            _openedAtMs.Count(at => at >= DeathAtMs && at < firstBreakEndedAtMs),
            firstOpenedAtMs - DeathAtMs,
            deadCalls.Sum(),
            deadCalls.Max(),
            deadCalls.Count(calls => calls <= 2),
            firstOpenedAtMs is null ? null : Probes(firstBreakEndedAtMs, breakMs, sharedCircuit: timedStore),
            timedStore ? _storeRequests.Count(request => request.AtMs >= 1_000) / ((DurationMs - 1_000) / 1_000.0) : null,
            timedStore ? [.. Enumerable.Range(0, seconds).Select(second => RequestsStartedIn(second))] : null,
            timedStore ? failuresAfterFirstSecond.GroupBy(failure => failure.Kind).OrderBy(kind => kind.Key, StringComparer.Ordinal).ToDictionary(kind => kind.Key, kind => kind.Count()) : null,
            timedStore ? [.. Enumerable.Range(1, seconds - 1).Select(second => failuresAfterFirstSecond.Count(failure => failure.AtMs / 1_000 == second && failure.Kind.EndsWith("timeout", StringComparison.Ordinal)))] : null,
            timedStore ? answered.Count(inTime => inTime) : null,
            timedStore ? deadCalls.Where((_, environment) => answered[environment]).DefaultIfEmpty().Max() : null,
            timedStore ? deadCalls.Where((_, environment) => !answered[environment]).Sum() : null,
            timedStore ? deadCalls.Where((_, environment) => !answered[environment]).DefaultIfEmpty().Max() : null,
            firstSuccess - HealAtMs);
    }
}
