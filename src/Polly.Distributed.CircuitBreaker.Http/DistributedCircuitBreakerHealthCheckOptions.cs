namespace Polly.Distributed.CircuitBreaker;

/// <summary>
/// Options of the distributed circuit breaker health check (<c>AddDistributedCircuitBreakerCheck</c>).
/// </summary>
/// <remarks>
/// The check reads each circuit of the state provider from its store and reports Healthy when every circuit is closed,
/// Degraded when one is half-open or open, or when its store does not answer in time, and Unhealthy only for an open circuit
/// with <see cref="UnhealthyWhenOpen"/>.
/// </remarks>
public sealed class DistributedCircuitBreakerHealthCheckOptions
{
    /// <summary>Gets or sets the provider whose circuits the check reports.</summary>
    /// <value>
    /// Defaults to <see langword="null"/>: the provider registered in the services, which the check registers when there is none
    /// and to which every breaker built by <c>AddDistributedCircuitBreaker(context)</c> (or with a service provider) attaches.
    /// </value>
    public DistributedCircuitBreakerStateProvider? StateProvider { get; set; }

    /// <summary>Gets or sets a value indicating whether an open (or isolated) circuit makes the check Unhealthy rather than Degraded.</summary>
    /// <value>
    /// Defaults to <see langword="false"/>: an open circuit is the breaker doing its job, so it degrades the service rather than
    /// marking it unhealthy (which an orchestrator may answer by restarting it). Only a state the store returned counts: a
    /// store that does not answer gives Degraded whatever this process last knew.
    /// </value>
    public bool UnhealthyWhenOpen { get; set; }

    /// <summary>Gets or sets how long the check waits for the store to answer the read of one circuit.</summary>
    /// <value>
    /// Defaults to <see langword="null"/>: the <see cref="DistributedCircuitBreakerStrategyOptions{TResult}.StoreTimeout"/> of the
    /// circuit's breaker. The circuits are read at the same time, so the whole check takes about the longest of them.
    /// </value>
    public TimeSpan? StoreTimeout { get; set; }
}
