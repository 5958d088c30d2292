namespace Polly.Distributed.CircuitBreaker;

/// <summary>
/// Options of the distributed circuit breaker for pipelines that handle any result type.
/// </summary>
public class DistributedCircuitBreakerStrategyOptions : DistributedCircuitBreakerStrategyOptions<object>
{
}
