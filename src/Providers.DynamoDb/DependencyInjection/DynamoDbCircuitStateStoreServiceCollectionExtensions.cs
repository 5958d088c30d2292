using Amazon;
using Amazon.DynamoDBv2;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Polly.Distributed.CircuitBreaker;
using Polly.Distributed.CircuitBreaker.DynamoDb;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Registers the DynamoDB circuit state store.
/// </summary>
public static class DynamoDbCircuitStateStoreServiceCollectionExtensions
{
    /// <summary>
    /// Registers a <see cref="DynamoDbCircuitStateStore"/> as the <see cref="ICircuitStateStore"/>, replacing any other.
    /// It uses the <see cref="IAmazonDynamoDB"/> registered in the container (for example by <c>AddAWSService&lt;IAmazonDynamoDB&gt;()</c>),
    /// or builds one from <see cref="DynamoDbCircuitStateStoreOptions.ServiceUrl"/> and <see cref="DynamoDbCircuitStateStoreOptions.Region"/>.
    /// </summary>
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

    private static AmazonDynamoDBClient CreateClient(DynamoDbCircuitStateStoreOptions options)
    {
        var config = new AmazonDynamoDBConfig();
        if (options.ServiceUrl is not null)
        {
            config.ServiceURL = options.ServiceUrl;
            config.AuthenticationRegion = options.Region ?? "us-east-1";
        }
        else if (options.Region is not null)
        {
            config.RegionEndpoint = RegionEndpoint.GetBySystemName(options.Region);
        }

        return new AmazonDynamoDBClient(config);
    }
}
