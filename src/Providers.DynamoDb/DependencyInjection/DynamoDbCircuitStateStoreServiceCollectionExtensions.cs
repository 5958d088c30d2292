using Amazon;
using Amazon.DynamoDBv2;
using Amazon.Runtime;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Polly.Distributed.CircuitBreaker;
using Polly.Distributed.CircuitBreaker.DynamoDb;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Registers the DynamoDB circuit state store.
/// </summary>
public static class DynamoDbCircuitStateStoreServiceCollectionExtensions
{
    // The retry and timeout settings of the client this class builds. The breaker bounds every store call by its StoreTimeout
    // (500 ms by default) and cancels it there, so these only matter past that bound (a caller without a token, WarmUpAsync)
    // and for the load a fleet puts on one hot item.
    // Standard, not adaptive: adaptive mode's client-side rate limiter can hold a request waiting for a send token.
    internal const RequestRetryMode ClientRetryMode = RequestRetryMode.Standard;

    // One retry, for a lost response, a transient network error or a timed-out attempt; the store's write ids make a
    // retried count idempotent. The SDK's default for DynamoDB is 10, with backoffs that add up to minutes when throttled.
    internal const int ClientMaxErrorRetry = 1;

    // The retry quota: once retries keep failing, the SDK stops retrying until requests succeed again. Turning it off
    // would lift that cap, not stop retries of throttled requests (the SDK has no setting for that).
    internal const bool ClientThrottleRetries = true;

    internal static readonly TimeSpan ClientRequestTimeout = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Registers a <see cref="DynamoDbCircuitStateStore"/> as the <see cref="ICircuitStateStore"/>, replacing any other.
    /// It uses the <see cref="IAmazonDynamoDB"/> registered in the container (for example by <c>AddAWSService&lt;IAmazonDynamoDB&gt;()</c>),
    /// or builds one from <see cref="DynamoDbCircuitStateStoreOptions.ServiceUrl"/> and <see cref="DynamoDbCircuitStateStoreOptions.Region"/>.
    /// </summary>
    /// <remarks>
    /// A client built here uses the SDK's standard retry mode with at most one retry per request, keeps the SDK's retry quota
    /// on (retries stop once they keep failing), and gives each HTTP attempt at most 2 seconds. These are set explicitly, so
    /// <c>AWS_MAX_ATTEMPTS</c> and <c>AWS_RETRY_MODE</c> do not change them; register an <see cref="IAmazonDynamoDB"/> to
    /// choose others. A registered client is used as it is configured.
    /// </remarks>
    /// <param name="services">The services.</param>
    /// <param name="configure">Sets the options; the table name defaults to the <c>CIRCUITBREAKER_TABLE</c> environment variable.</param>
    /// <returns>The same services.</returns>
    /// <exception cref="ArgumentException">The options are invalid, for example no table name is set.</exception>
    public static IServiceCollection AddDynamoDbCircuitStateStore(this IServiceCollection services, Action<DynamoDbCircuitStateStoreOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);

        var options = new DynamoDbCircuitStateStoreOptions();
        configure?.Invoke(options);
        options.Validate();

        services.RemoveAll<ICircuitStateStore>();
        services.AddSingleton(sp =>
        {
            var registered = sp.GetService<IAmazonDynamoDB>();
            return registered is not null
                ? new DynamoDbCircuitStateStore(registered, options)
                : new DynamoDbCircuitStateStore(CreateClient(options), options, ownsClient: true);
        });
        services.AddSingleton<ICircuitStateStore>(static sp => sp.GetRequiredService<DynamoDbCircuitStateStore>());
        return services;
    }

    private static AmazonDynamoDBClient CreateClient(DynamoDbCircuitStateStoreOptions options) => new(CreateClientConfig(options));

    internal static AmazonDynamoDBConfig CreateClientConfig(DynamoDbCircuitStateStoreOptions options)
    {
        var config = new AmazonDynamoDBConfig
        {
            RetryMode = ClientRetryMode,
            MaxErrorRetry = ClientMaxErrorRetry,
            ThrottleRetries = ClientThrottleRetries,
            Timeout = ClientRequestTimeout,
        };
        if (options.ServiceUrl is not null)
        {
            config.ServiceURL = options.ServiceUrl;
            config.AuthenticationRegion = options.Region ?? "us-east-1";
        }
        else if (options.Region is not null)
        {
            config.RegionEndpoint = RegionEndpoint.GetBySystemName(options.Region);
        }

        return config;
    }
}
