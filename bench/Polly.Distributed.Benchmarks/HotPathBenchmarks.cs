using BenchmarkDotNet.Attributes;
using Polly.CircuitBreaker;
using Polly.Distributed.CircuitBreaker;

namespace Polly.Distributed.Benchmarks;

/// <summary>
/// The cost of one healthy call through a closed breaker: Polly's in-memory breaker against the distributed one
/// (in-memory store, so the figure is the strategy's own overhead, not a network round trip).
/// </summary>
[MemoryDiagnoser]
public class HotPathBenchmarks
{
    private static readonly Func<CancellationToken, ValueTask<int>> HealthyCall = static _ => new ValueTask<int>(42);

    private ResiliencePipeline _empty = ResiliencePipeline.Empty;
    private ResiliencePipeline _polly = ResiliencePipeline.Empty;
    private ResiliencePipeline _distributed = ResiliencePipeline.Empty;
    private ResiliencePipeline _distributedCached = ResiliencePipeline.Empty;

    [GlobalSetup]
    public void Setup()
    {
        _empty = new ResiliencePipelineBuilder().Build();
        _polly = new ResiliencePipelineBuilder().AddCircuitBreaker(new CircuitBreakerStrategyOptions()).Build();
        _distributed = Distributed(TimeSpan.Zero);
        _distributedCached = Distributed(TimeSpan.FromSeconds(1));
    }

    [Benchmark(Baseline = true)]
    public ValueTask<int> NoStrategy() => _empty.ExecuteAsync(HealthyCall);

    [Benchmark]
    public ValueTask<int> PollyCircuitBreaker() => _polly.ExecuteAsync(HealthyCall);

    [Benchmark]
    public ValueTask<int> DistributedCircuitBreaker() => _distributed.ExecuteAsync(HealthyCall);

    [Benchmark]
    public ValueTask<int> DistributedCircuitBreakerCached() => _distributedCached.ExecuteAsync(HealthyCall);

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
