using Microsoft.Extensions.Http.Resilience;
using Polly.CircuitBreaker;

namespace Polly.Distributed.CircuitBreaker;

/// <summary>
/// Options of the distributed circuit breaker in an <see cref="HttpClient"/> resilience handler.
/// </summary>
/// <remarks>
/// <see cref="DistributedCircuitBreakerStrategyOptions{TResult}.ShouldHandle"/> defaults to the transient HTTP outcomes of
/// Microsoft.Extensions.Http.Resilience's own breaker: <see cref="HttpRequestException"/>, Polly's <c>TimeoutRejectedException</c>,
/// and the status codes 5xx, 408 and 429.
/// </remarks>
public class HttpDistributedCircuitBreakerStrategyOptions : DistributedCircuitBreakerStrategyOptions<HttpResponseMessage>
{
    /// <summary>
    /// Initializes a new instance of the <see cref="HttpDistributedCircuitBreakerStrategyOptions"/> class.
    /// </summary>
    public HttpDistributedCircuitBreakerStrategyOptions() =>
        ShouldHandle = static args => new ValueTask<bool>(HttpClientResiliencePredicates.IsTransient(args.Outcome));
}
