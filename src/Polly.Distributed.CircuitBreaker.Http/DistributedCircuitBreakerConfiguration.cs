namespace Polly.Distributed.CircuitBreaker;

/// <summary>
/// The options that can come from configuration, bound by the configuration binding source generator (the options type
/// itself holds delegates, a store and a logger, which configuration cannot express). A key that is absent keeps the default.
/// </summary>
internal sealed class DistributedCircuitBreakerConfiguration
{
    public string? CircuitId { get; set; }

    public int? FailureThreshold { get; set; }

    public int? SuccessThreshold { get; set; }

    public TimeSpan? BreakDuration { get; set; }

    public TimeSpan? MaxBreakDuration { get; set; }

    public TimeSpan? FailureWindow { get; set; }

    public TimeSpan? CacheTtl { get; set; }

    public TimeSpan? StoreTimeout { get; set; }

    public CircuitConsistency? Consistency { get; set; }

    public TimeSpan? ProbeLeaseDuration { get; set; }

    public int? MinimumFailingEnvironments { get; set; }

    public void ApplyTo(HttpDistributedCircuitBreakerStrategyOptions options)
    {
        options.CircuitId = CircuitId ?? options.CircuitId;
        options.FailureThreshold = FailureThreshold ?? options.FailureThreshold;
        options.SuccessThreshold = SuccessThreshold ?? options.SuccessThreshold;
        options.BreakDuration = BreakDuration ?? options.BreakDuration;
        options.MaxBreakDuration = MaxBreakDuration ?? options.MaxBreakDuration;
        options.FailureWindow = FailureWindow ?? options.FailureWindow;
        options.CacheTtl = CacheTtl ?? options.CacheTtl;
        options.StoreTimeout = StoreTimeout ?? options.StoreTimeout;
        options.Consistency = Consistency ?? options.Consistency;
        options.ProbeLeaseDuration = ProbeLeaseDuration ?? options.ProbeLeaseDuration;
        options.MinimumFailingEnvironments = MinimumFailingEnvironments ?? options.MinimumFailingEnvironments;
    }
}
