using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Polly.Distributed.CircuitBreaker;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Binds the options of HTTP distributed circuit breakers from configuration.
/// </summary>
public static class DistributedCircuitBreakerOptionsServiceCollectionExtensions
{
    /// <summary>
    /// Binds <see cref="HttpDistributedCircuitBreakerStrategyOptions"/> from a configuration section (such as <c>CircuitBreaker</c>)
    /// and validates them when the host starts, so a bad value stops the start-up instead of the first call. Binding and
    /// validation are generated at compile time: a NativeAOT build behaves as a JIT build does.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="section">The section, with keys named like the options' properties (<c>FailureThreshold</c>, <c>BreakDuration</c> = <c>00:00:10</c>, ...).</param>
    /// <param name="name">The options name, for several breakers with different settings; the default options when <see langword="null"/>.</param>
    /// <returns>The same services.</returns>
    public static IServiceCollection AddDistributedCircuitBreakerOptions(this IServiceCollection services, IConfiguration section, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(section);

        name ??= Options.Options.DefaultName;
        services.AddOptions<HttpDistributedCircuitBreakerStrategyOptions>(name)
            .Configure(options => section.Get<DistributedCircuitBreakerConfiguration>()?.ApplyTo(options))
            .ValidateOnStart();
        services.AddSingleton<IOptionsChangeTokenSource<HttpDistributedCircuitBreakerStrategyOptions>>(
            new ConfigurationChangeTokenSource<HttpDistributedCircuitBreakerStrategyOptions>(name, section));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<HttpDistributedCircuitBreakerStrategyOptions>, HttpDistributedCircuitBreakerStrategyOptionsValidator>());
        return services;
    }
}
