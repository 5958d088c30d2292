using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Logging;
using Polly.Distributed.CircuitBreaker;
using Polly.Distributed.CircuitBreaker.State;

namespace Polly;

/// <summary>
/// Adds the distributed circuit breaker inside <c>AddResilienceHandler(name, (builder, context) =&gt; ...)</c>.
/// </summary>
public static class DistributedCircuitBreakerResilienceHandlerExtensions
{
    /// <summary>
    /// Adds a distributed circuit breaker to an <see cref="HttpClient"/> resilience pipeline. The store comes from
    /// <paramref name="context"/>'s services, the options from <c>IOptionsMonitor&lt;HttpDistributedCircuitBreakerStrategyOptions&gt;</c>
    /// (see <c>AddDistributedCircuitBreakerOptions</c>) and then <paramref name="configure"/>. The breaker attaches to the
    /// <see cref="DistributedCircuitBreakerStateProvider"/> registered in the services, when there is one and the options name
    /// none, so that <c>AddDistributedCircuitBreakerCheck()</c> reports its circuit.
    /// </summary>
    /// <param name="builder">The pipeline builder of the handler.</param>
    /// <param name="context">The handler context.</param>
    /// <param name="configure">Adjusts the options of this pipeline.</param>
    /// <param name="optionsName">The name of the configured options; the default options when <see langword="null"/>.</param>
    /// <returns>The same builder.</returns>
    /// <remarks>
    /// The circuit id is <see cref="DistributedCircuitBreakerStrategyOptions{TResult}.CircuitId"/> (by default the Lambda function name,
    /// else the pipeline name); with <c>SelectPipelineByAuthority()</c> the downstream authority is appended (<c>my-function:api.example.com</c>),
    /// so each host gets its own circuit.
    /// </remarks>
    /// <exception cref="InvalidOperationException">No <see cref="ICircuitStateStore"/> is registered and none is set.</exception>
    /// <exception cref="System.ComponentModel.DataAnnotations.ValidationException">The options are invalid.</exception>
    public static ResiliencePipelineBuilder<HttpResponseMessage> AddDistributedCircuitBreaker(
        this ResiliencePipelineBuilder<HttpResponseMessage> builder,
        ResilienceHandlerContext context,
        Action<HttpDistributedCircuitBreakerStrategyOptions>? configure = null,
        string? optionsName = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(context);

        var options = (HttpDistributedCircuitBreakerStrategyOptions)context.GetOptions<HttpDistributedCircuitBreakerStrategyOptions>(optionsName).Clone();
        configure?.Invoke(options);

        options.StateStore ??= context.ServiceProvider.GetService<ICircuitStateStore>()
            ?? throw new InvalidOperationException(
                "No ICircuitStateStore is registered: call services.AddDynamoDbCircuitStateStore(), services.AddRedisCircuitStateStore() " +
                "or services.AddInMemoryCircuitStateStore(), or set the StateStore option.");
        options.Logger ??= context.ServiceProvider.GetService<ILoggerFactory>()?.CreateLogger(DistributedCircuitBreakerPipelineBuilderExtensions.LoggerCategory);
        options.StateProvider ??= context.ServiceProvider.GetService<DistributedCircuitBreakerStateProvider>();
        options.CircuitId = CircuitIdFor(options.CircuitId ?? CircuitIdRules.Sanitize(context.BuilderName), context.InstanceName);

        return builder.AddDistributedCircuitBreaker(options);
    }

    /// <summary>
    /// Appends the downstream authority to the circuit id. The base id is kept as given, so an invalid one still fails validation;
    /// an authority that would make the id too long is shortened and ends with a hash of itself, so hosts never share a circuit by accident.
    /// </summary>
    /// <summary>
    /// Gets the circuit id that <see cref="AddDistributedCircuitBreaker"/> gives the pipeline <paramref name="pipelineName"/>
    /// of the HttpClient <paramref name="httpClientName"/>, for reading or controlling that circuit elsewhere (a status page,
    /// an operator's tool) before any call has built the pipeline.
    /// </summary>
    /// <param name="options">The options the pipeline is built with (their <see cref="DistributedCircuitBreakerStrategyOptions{TResult}.CircuitId"/>, when set, is the base id).</param>
    /// <param name="httpClientName">The name the HttpClient is registered with.</param>
    /// <param name="pipelineName">The name given to <c>AddResilienceHandler</c>.</param>
    /// <param name="downstream">With <c>SelectPipelineByAuthority()</c>, any URI of the host called; otherwise <see langword="null"/>.</param>
    /// <returns>The circuit id, such as <c>my-function:api.example.com</c>.</returns>
    public static string GetCircuitId(HttpDistributedCircuitBreakerStrategyOptions options, string httpClientName, string pipelineName, Uri? downstream = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(httpClientName);
        ArgumentException.ThrowIfNullOrEmpty(pipelineName);

        // Microsoft.Extensions.Http.Resilience names a handler's pipeline "<client>-<pipeline>".
        var baseId = options.CircuitId ?? CircuitIdRules.Sanitize($"{httpClientName}-{pipelineName}");
        return CircuitIdFor(baseId, downstream?.GetLeftPart(UriPartial.Authority));
    }

    internal static string CircuitIdFor(string baseId, string? instanceName)
    {
        if (string.IsNullOrEmpty(instanceName))
        {
            return baseId;
        }

        var rawAuthority = Uri.TryCreate(instanceName, UriKind.Absolute, out var uri) ? uri.Authority : instanceName;
        var authority = CircuitIdRules.Sanitize(rawAuthority);
        var room = CircuitIdRules.MaxLength - baseId.Length - 1;
        if (authority.Length > room && room > HashLength + 1)
        {
            var hash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(rawAuthority)), 0, HashLength / 2).ToLowerInvariant();
            authority = authority[..(room - HashLength - 1)] + "." + hash;
        }

        return baseId + ":" + authority;
    }

    private const int HashLength = 16;
}
