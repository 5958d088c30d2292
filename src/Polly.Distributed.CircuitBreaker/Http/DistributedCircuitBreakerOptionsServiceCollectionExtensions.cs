using System.ComponentModel.DataAnnotations;
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
    /// and validates them when the host starts, so a bad value stops the start-up instead of the first call.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="section">The section, with keys named like the options' properties (<c>FailureThreshold</c>, <c>BreakDuration</c> = <c>00:00:10</c>, ...).</param>
    /// <param name="name">The options name, for several breakers with different settings; the default options when <see langword="null"/>.</param>
    /// <returns>The same services.</returns>
    public static IServiceCollection AddDistributedCircuitBreakerOptions(this IServiceCollection services, IConfiguration section, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(section);

        services.AddOptions<HttpDistributedCircuitBreakerStrategyOptions>(name ?? Options.Options.DefaultName)
            .Bind(section)
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<HttpDistributedCircuitBreakerStrategyOptions>, BoundOptionsValidator>());
        return services;
    }

    // The store and the default circuit id are filled in when the pipeline is built, so they are not required here.
    private sealed class BoundOptionsValidator : IValidateOptions<HttpDistributedCircuitBreakerStrategyOptions>
    {
        public ValidateOptionsResult Validate(string? name, HttpDistributedCircuitBreakerStrategyOptions options)
        {
            var results = new List<ValidationResult>();
            var context = new ValidationContext(options);
            Validator.TryValidateObject(options, context, results, validateAllProperties: true);

            // DataAnnotations skips the cross-property rules once a property failed, and StateStore always does here.
            results.AddRange(options.Validate(context));
            var failures = results
                .Where(r => !r.MemberNames.Contains(nameof(options.StateStore)))
                .Where(r => !(options.CircuitId is null && r.MemberNames.Contains(nameof(options.CircuitId))))
                .Select(r => r.ErrorMessage ?? "invalid value")
                .Distinct(StringComparer.Ordinal)
                .ToList();
            return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
        }
    }
}
