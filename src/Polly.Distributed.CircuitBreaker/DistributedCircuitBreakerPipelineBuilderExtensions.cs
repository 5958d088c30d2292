using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Polly.Distributed.CircuitBreaker;
using Polly.Distributed.CircuitBreaker.Controller;
using Polly.Distributed.CircuitBreaker.Strategy;
using Polly.Distributed.CircuitBreaker.Validation;

namespace Polly;

/// <summary>
/// Adds the distributed circuit breaker to resilience pipelines.
/// </summary>
public static class DistributedCircuitBreakerPipelineBuilderExtensions
{
    /// <summary>Adds a distributed circuit breaker that handles any result type.</summary>
    /// <param name="builder">The pipeline builder.</param>
    /// <param name="options">The breaker options.</param>
    /// <returns>The same builder.</returns>
    /// <exception cref="System.ComponentModel.DataAnnotations.ValidationException">The options are invalid.</exception>
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = "The options' members are preserved by the DynamicDependency.")]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(DistributedCircuitBreakerStrategyOptions))]
    public static ResiliencePipelineBuilder AddDistributedCircuitBreaker(
        this ResiliencePipelineBuilder builder,
        DistributedCircuitBreakerStrategyOptions options)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(options);

        StrategyOptionsGuard.ThrowIfInvalid(options);
        return builder.AddStrategy(context => CreateStrategy(context, options, builder.Name, builder.InstanceName), options);
    }

    /// <summary>Adds a distributed circuit breaker for results of type <typeparamref name="TResult"/>.</summary>
    /// <typeparam name="TResult">The result type.</typeparam>
    /// <param name="builder">The pipeline builder.</param>
    /// <param name="options">The breaker options.</param>
    /// <returns>The same builder.</returns>
    /// <exception cref="System.ComponentModel.DataAnnotations.ValidationException">The options are invalid.</exception>
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = "The options' members are preserved by the DynamicallyAccessedMembers annotation.")]
    public static ResiliencePipelineBuilder<TResult> AddDistributedCircuitBreaker<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.All)] TResult>(
        this ResiliencePipelineBuilder<TResult> builder,
        DistributedCircuitBreakerStrategyOptions<TResult> options)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(options);

        StrategyOptionsGuard.ThrowIfInvalid(options);
        return builder.AddStrategy(context => CreateStrategy(context, options, builder.Name, builder.InstanceName), options);
    }

    /// <summary>
    /// Adds a distributed circuit breaker for results of type <typeparamref name="TResult"/>, taking the
    /// <see cref="ICircuitStateStore"/> (unless <paramref name="options"/> names one), the logger and, when one is registered,
    /// the <see cref="DistributedCircuitBreakerStateProvider"/> from <paramref name="services"/>.
    /// </summary>
    /// <typeparam name="TResult">The result type.</typeparam>
    /// <param name="builder">The pipeline builder.</param>
    /// <param name="services">The service provider, such as the one of a resilience handler's context.</param>
    /// <param name="options">The breaker options.</param>
    /// <returns>The same builder.</returns>
    /// <exception cref="System.ComponentModel.DataAnnotations.ValidationException">The options are invalid.</exception>
    public static ResiliencePipelineBuilder<TResult> AddDistributedCircuitBreaker<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.All)] TResult>(
        this ResiliencePipelineBuilder<TResult> builder,
        IServiceProvider services,
        DistributedCircuitBreakerStrategyOptions<TResult> options)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(options);

        TakeFromServices(services, options);
        return builder.AddDistributedCircuitBreaker(options);
    }

    /// <summary>
    /// Adds a distributed circuit breaker that handles any result type, taking the <see cref="ICircuitStateStore"/> (unless
    /// <paramref name="options"/> names one), the logger and, when one is registered, the <see cref="DistributedCircuitBreakerStateProvider"/>
    /// from <paramref name="services"/>.
    /// </summary>
    /// <param name="builder">The pipeline builder.</param>
    /// <param name="services">The service provider, such as a handler's.</param>
    /// <param name="options">The breaker options.</param>
    /// <returns>The same builder.</returns>
    /// <exception cref="System.ComponentModel.DataAnnotations.ValidationException">The options are invalid.</exception>
    public static ResiliencePipelineBuilder AddDistributedCircuitBreaker(
        this ResiliencePipelineBuilder builder,
        IServiceProvider services,
        DistributedCircuitBreakerStrategyOptions options)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(options);

        TakeFromServices(services, options);
        return builder.AddDistributedCircuitBreaker(options);
    }

    internal const string LoggerCategory = "Polly.Distributed.CircuitBreaker";

    /// <summary>
    /// Builds a breaker outside any pipeline and returns its controller, for hosts that check and record a call in separate
    /// requests (the sidecar). The breaker lives as long as the controller.
    /// </summary>
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = "The options' members are preserved by the DynamicDependency.")]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(DistributedCircuitBreakerStrategyOptions))]
    internal static DistributedCircuitController<object> BuildController(DistributedCircuitBreakerStrategyOptions options, TimeProvider timeProvider)
    {
        StrategyOptionsGuard.ThrowIfInvalid(options);
        DistributedCircuitController<object>? controller = null;
        new ResiliencePipelineBuilder { TimeProvider = timeProvider }
            .AddStrategy(
                context =>
                {
                    var strategy = CreateStrategy(context, options, pipelineName: null, pipelineInstance: null);
                    controller = strategy.Controller;
                    return strategy;
                },
                options)
            .Build();
        return controller!;
    }

    private static void TakeFromServices<TResult>(IServiceProvider services, DistributedCircuitBreakerStrategyOptions<TResult> options)
    {
        options.StateStore ??= services.GetService<ICircuitStateStore>();
        options.Logger ??= services.GetService<ILoggerFactory>()?.CreateLogger(LoggerCategory);
        options.StateProvider ??= services.GetService<DistributedCircuitBreakerStateProvider>();
    }

    internal static DistributedCircuitBreakerResilienceStrategy<TResult> CreateStrategy<TResult>(
        StrategyBuilderContext context,
        DistributedCircuitBreakerStrategyOptions<TResult> options,
        string? pipelineName,
        string? pipelineInstance)
    {
        var controller = new DistributedCircuitController<TResult>(options, context.TimeProvider, context.Telemetry);
        return new DistributedCircuitBreakerResilienceStrategy<TResult>(
            options.ShouldHandle,
            controller,
            options.ManualControl?.Attach(controller),
            options.StateProvider?.Attach(controller),
            controller.ReportStateMetrics(pipelineName, pipelineInstance, options.Name));
    }
}
