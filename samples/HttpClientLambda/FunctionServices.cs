using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Fallback;
using Polly.Distributed.CircuitBreaker;
using Polly.Distributed.CircuitBreaker.DynamoDb;

namespace HttpClientLambda;

/// <summary>
/// The function's services, built once per execution environment (at cold start) from environment variables:
/// <list type="bullet">
/// <item><c>DOWNSTREAM_URL</c>: the dependency the function calls (required).</item>
/// <item><c>CIRCUITBREAKER_STORE</c>: <c>dynamodb</c> (default, table <c>CIRCUITBREAKER_TABLE</c>, optional <c>DYNAMODB_SERVICE_URL</c>),
/// <c>redis</c> (<c>CIRCUITBREAKER_REDIS</c> connection string) or <c>memory</c>.</item>
/// <item><c>CIRCUITBREAKER_KIND</c>: <c>distributed</c> (default) or <c>in-process</c> (Polly's own breaker, for comparison).</item>
/// <item><c>CircuitBreaker__FailureThreshold</c>, <c>CircuitBreaker__BreakDuration</c>, ...: the breaker options.</item>
/// </list>
/// </summary>
public static class FunctionServices
{
    public const string DownstreamClient = "downstream";

    public const string DownstreamPipeline = "downstream";

    public static ServiceProvider Build(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);

        var downstream = new Uri(configuration["DOWNSTREAM_URL"] ?? throw new InvalidOperationException("Set DOWNSTREAM_URL to the dependency's base URL."));
        var services = new ServiceCollection();
        services.AddSingleton(configuration);
        services.AddSingleton<LastGoodResponse>();
        services.AddLogging(logging => logging
            .AddConfiguration(configuration.GetSection("Logging"))
            .AddConsole(console => console.LogToStandardErrorThreshold = LogLevel.Trace));

        AddCircuitStateStore(services, configuration);

        services.AddDistributedCircuitBreakerOptions(configuration.GetSection("CircuitBreaker"));
        var inProcess = string.Equals(configuration["CIRCUITBREAKER_KIND"], "in-process", StringComparison.OrdinalIgnoreCase);

        services.AddHttpClient(DownstreamClient, client => client.BaseAddress = downstream)
            .AddResilienceHandler(DownstreamPipeline, (pipeline, context) =>
            {
                // The usual order: fallback, total timeout, retry, circuit breaker, attempt timeout. The fallback answers a
                // rejected call with the last good answer, when there is one.
                var lastGood = context.ServiceProvider.GetRequiredService<LastGoodResponse>();
                pipeline.AddFallback(new FallbackStrategyOptions<HttpResponseMessage>
                {
                    ShouldHandle = args => new ValueTask<bool>(args.Outcome.Exception is Polly.CircuitBreaker.BrokenCircuitException && lastGood.HasBody),
                    FallbackAction = _ => Outcome.FromResultAsValueTask(lastGood.ToResponse()),
                });
                pipeline.AddTimeout(TimeSpan.FromSeconds(10));
                pipeline.AddRetry(new HttpRetryStrategyOptions
                {
                    MaxRetryAttempts = 1,
                    Delay = TimeSpan.FromMilliseconds(50),
                    ShouldHandle = args => new ValueTask<bool>(
                        args.Outcome.Exception is not Polly.CircuitBreaker.BrokenCircuitException && HttpClientResiliencePredicates.IsTransient(args.Outcome)),
                });

                if (inProcess)
                {
                    var options = context.GetOptions<HttpDistributedCircuitBreakerStrategyOptions>();
                    pipeline.AddCircuitBreaker(new HttpCircuitBreakerStrategyOptions
                    {
                        FailureRatio = 0.5,
                        MinimumThroughput = options.FailureThreshold,
                        SamplingDuration = options.FailureWindow,
                        BreakDuration = options.BreakDuration,
                    });
                }
                else
                {
                    pipeline.AddDistributedCircuitBreaker(context);
                }

                pipeline.AddTimeout(TimeSpan.FromSeconds(2));
            })
            .SelectPipelineByAuthority();

        services.AddHttpClient("control", client => client.BaseAddress = downstream);
        return services.BuildServiceProvider();
    }

    /// <summary>
    /// Registers the circuit state store named by <c>CIRCUITBREAKER_STORE</c>: the only lines that know which store holds
    /// the circuits, shared by both handlers.
    /// </summary>
    public static void AddCircuitStateStore(IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);

        switch (configuration["CIRCUITBREAKER_STORE"]?.ToUpperInvariant() ?? "DYNAMODB")
        {
            case "REDIS":
                services.AddRedisCircuitStateStore(o =>
                {
                    o.ConnectionString = configuration["CIRCUITBREAKER_REDIS"];
                    o.ItemExpiry = ItemExpiry(configuration);
                });
                break;
            case "MEMORY":
                services.AddInMemoryCircuitStateStore();
                break;
            default:
                services.AddDynamoDbCircuitStateStore(o =>
                {
                    o.TableName = configuration["CIRCUITBREAKER_TABLE"] ?? o.TableName;
                    o.ServiceUrl = configuration["DYNAMODB_SERVICE_URL"];
                    o.ItemExpiry = ItemExpiry(configuration);
                });
                break;
        }
    }

    // How long an item no breaker writes any more is kept (CIRCUITBREAKER_ITEM_EXPIRY_SECONDS, as for the sidecar); unset: forever.
    private static TimeSpan? ItemExpiry(IConfiguration configuration) =>
        configuration["CIRCUITBREAKER_ITEM_EXPIRY_SECONDS"] is { } seconds
            ? TimeSpan.FromSeconds(int.Parse(seconds, System.Globalization.CultureInfo.InvariantCulture))
            : null;

    /// <summary>
    /// Checks and warms the DynamoDB store before the first invocation, so a cold start does not spend its first store call
    /// (TLS handshake, credentials) against the breaker's store timeout. A failure is logged, not thrown: the breaker fails open.
    /// </summary>
    public static ServiceProvider WarmUp(ServiceProvider services)
    {
        ArgumentNullException.ThrowIfNull(services);

        if (services.GetService<ICircuitStateStore>() is DynamoDbCircuitStateStore dynamoDb)
        {
            try
            {
                dynamoDb.WarmUpAsync().GetAwaiter().GetResult();
            }
            catch (CircuitStateStoreException ex)
            {
                services.GetRequiredService<ILoggerFactory>().CreateLogger("HttpClientLambda").LogWarning(ex, "The circuit state store is not ready: {Error}", ex.Message);
            }
        }

        return services;
    }
}
