using BenchmarkDotNet.Attributes;
using Polly.CircuitBreaker;
using Polly.Distributed.CircuitBreaker;

namespace Polly.Distributed.Benchmarks;

/// <summary>
/// The cost of one healthy call through a closed breaker, and of one rejection by an open (isolated) one returned as an
/// outcome: Polly's in-memory breaker against the distributed one (in-memory store, so the figure is the strategy's own
/// overhead, not a network round trip).
/// </summary>
[MemoryDiagnoser]
public class HotPathBenchmarks
{
    private static readonly Func<CancellationToken, ValueTask<int>> HealthyCall = static _ => new ValueTask<int>(42);

    private ResiliencePipeline _empty = ResiliencePipeline.Empty;
    private ResiliencePipeline _polly = ResiliencePipeline.Empty;
    private ResiliencePipeline _distributed = ResiliencePipeline.Empty;
    private ResiliencePipeline _distributedCached = ResiliencePipeline.Empty;
    private ResiliencePipeline _pollyOpen = ResiliencePipeline.Empty;
    private ResiliencePipeline _distributedOpen = ResiliencePipeline.Empty;
    private ResiliencePipeline _distributedOpenCached = ResiliencePipeline.Empty;
    private ResilienceContext _context = ResilienceContextPool.Shared.Get();

    [GlobalSetup]
    public void Setup()
    {
        _empty = new ResiliencePipelineBuilder().Build();
        _polly = new ResiliencePipelineBuilder().AddCircuitBreaker(new CircuitBreakerStrategyOptions()).Build();
        _distributed = Distributed(TimeSpan.Zero);
        _distributedCached = Distributed(TimeSpan.FromSeconds(1));
        _pollyOpen = new ResiliencePipelineBuilder().AddCircuitBreaker(new CircuitBreakerStrategyOptions { ManualControl = new CircuitBreakerManualControl(isIsolated: true) }).Build();
        var openStore = new InMemoryCircuitStateStore();
        openStore.WriteAsync("open", new CircuitSnapshot { State = StoredCircuitState.Open, NextAttemptUnixMs = CircuitSnapshot.IsolatedUntilUnixMs }, CancellationToken.None).AsTask().GetAwaiter().GetResult();
        _distributedOpen = new ResiliencePipelineBuilder()
            .AddDistributedCircuitBreaker(new DistributedCircuitBreakerStrategyOptions { CircuitId = "open", StateStore = openStore })
            .Build();
        _distributedOpenCached = new ResiliencePipelineBuilder()
            .AddDistributedCircuitBreaker(new DistributedCircuitBreakerStrategyOptions { CircuitId = "open", StateStore = openStore, CacheTtl = TimeSpan.FromSeconds(1) })
            .Build();
        _context = ResilienceContextPool.Shared.Get();
    }

    [Benchmark(Baseline = true)]
    public ValueTask<int> NoStrategy() => _empty.ExecuteAsync(HealthyCall);

    [Benchmark]
    public ValueTask<int> PollyCircuitBreaker() => _polly.ExecuteAsync(HealthyCall);

    [Benchmark]
    public ValueTask<int> DistributedCircuitBreaker() => _distributed.ExecuteAsync(HealthyCall);

    [Benchmark]
    public ValueTask<int> DistributedCircuitBreakerCached() => _distributedCached.ExecuteAsync(HealthyCall);

    [Benchmark]
    public ValueTask<Outcome<int>> PollyCircuitBreakerOpen() => _pollyOpen.ExecuteOutcomeAsync(static (_, _) => Outcome.FromResultAsValueTask(42), _context, 0);

    [Benchmark]
    public ValueTask<Outcome<int>> DistributedCircuitBreakerOpen() => _distributedOpen.ExecuteOutcomeAsync(static (_, _) => Outcome.FromResultAsValueTask(42), _context, 0);

    [Benchmark]
    public ValueTask<Outcome<int>> DistributedCircuitBreakerOpenCached() => _distributedOpenCached.ExecuteOutcomeAsync(static (_, _) => Outcome.FromResultAsValueTask(42), _context, 0);

    private static ResiliencePipeline Distributed(TimeSpan cacheTtl) =>
        new ResiliencePipelineBuilder()
            .AddDistributedCircuitBreaker(new DistributedCircuitBreakerStrategyOptions
            {
                CircuitId = "bench",
                StateStore = new InMemoryCircuitStateStore(),
                CacheTtl = cacheTtl,
            })
            .Build();
}
