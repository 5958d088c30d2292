using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Polly.Distributed.CircuitBreaker;
using Polly.Distributed.CircuitBreaker.Health;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Adds a health check that reports the state of distributed circuits.
/// </summary>
public static class DistributedCircuitBreakerHealthChecksBuilderExtensions
{
    /// <summary>
    /// Adds a health check that reports every circuit of a <see cref="DistributedCircuitBreakerStateProvider"/>: Healthy when
    /// all are closed, Degraded when one is half-open or open or its store does not answer in time, Unhealthy only for an open
    /// circuit with <see cref="DistributedCircuitBreakerHealthCheckOptions.UnhealthyWhenOpen"/>. Its data gives, per circuit id,
    /// the state, the next attempt (ISO 8601, UTC) and whether the store answered. The check never throws.
    /// </summary>
    /// <param name="builder">The health checks builder.</param>
    /// <param name="name">The name of the check.</param>
    /// <param name="configure">Adjusts the options of the check.</param>
    /// <param name="tags">The tags of the check, to filter checks by.</param>
    /// <returns>The same builder.</returns>
    /// <remarks>
    /// Unless <see cref="DistributedCircuitBreakerHealthCheckOptions.StateProvider"/> names one, the check reports the
    /// provider registered in the services, and registers one when there is none. The breakers added inside
    /// <c>AddResilienceHandler</c> with <c>AddDistributedCircuitBreaker(context)</c>, and those added with a service provider,
    /// attach to it unless their options name another, so one line covers every HttpClient pipeline of the application:
    /// <c>services.AddHealthChecks().AddDistributedCircuitBreakerCheck();</c>. A pipeline is reported once it has been built
    /// (HttpClient pipelines are built on first use).
    /// </remarks>
    /// <exception cref="ArgumentOutOfRangeException">The options' store timeout is not greater than zero.</exception>
    public static IHealthChecksBuilder AddDistributedCircuitBreakerCheck(
        this IHealthChecksBuilder builder,
        string name = "distributed-circuit-breaker",
        Action<DistributedCircuitBreakerHealthCheckOptions>? configure = null,
        IEnumerable<string>? tags = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(name);

        var options = new DistributedCircuitBreakerHealthCheckOptions();
        configure?.Invoke(options);
        if (options.StoreTimeout is { } timeout && timeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(configure), timeout, $"The health check's {nameof(options.StoreTimeout)} must be greater than zero.");
        }

        builder.Services.TryAddSingleton(static _ => new DistributedCircuitBreakerStateProvider());
        return builder.Add(new HealthCheckRegistration(
            name,
            services => new DistributedCircuitBreakerHealthCheck(
                options.StateProvider ?? services.GetRequiredService<DistributedCircuitBreakerStateProvider>(),
                options.UnhealthyWhenOpen,
                options.StoreTimeout,
                services.GetService<TimeProvider>() ?? TimeProvider.System),
            failureStatus: null,
            tags));
    }
}
