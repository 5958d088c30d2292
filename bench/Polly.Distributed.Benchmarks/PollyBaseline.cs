using Polly.CircuitBreaker;

namespace Polly.Distributed.Benchmarks;

/// <summary>Polly's own breaker with the distributed breaker's threshold semantics, one per environment, sharing nothing.</summary>
internal static class PollyBaseline
{
    /// <summary>Failure ratio 1.0 over at least <paramref name="threshold"/> calls: it opens at that many failures in a row.</summary>
    public static CircuitBreakerStrategyOptions Options(int threshold, TimeSpan breakDuration) => new()
    {
        FailureRatio = 1.0,
        MinimumThroughput = threshold,
        SamplingDuration = TimeSpan.FromMinutes(1),
        BreakDuration = breakDuration,
    };
}
