using Microsoft.Extensions.DependencyInjection.Extensions;
using Polly.Distributed.CircuitBreaker;
using Polly.Distributed.CircuitBreaker.Redis;
using Polly.Distributed.CircuitBreaker.Redis.Internal;
using StackExchange.Redis;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Registers the Redis / Valkey circuit state store.
/// </summary>
public static class RedisCircuitStateStoreServiceCollectionExtensions
{
    /// <summary>
    /// Registers a <see cref="RedisCircuitStateStore"/> as the <see cref="ICircuitStateStore"/>, replacing any other.
    /// It uses the <see cref="IConnectionMultiplexer"/> registered in the container, or connects with
    /// <see cref="RedisCircuitStateStoreOptions.ConnectionString"/> (TLS and password included; it is never logged).
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="configure">Sets the options.</param>
    /// <returns>The same services.</returns>
    /// <exception cref="ArgumentException">The connection string cannot be parsed, or <see cref="RedisCircuitStateStoreOptions.ItemExpiry"/> is out of range.</exception>
    public static IServiceCollection AddRedisCircuitStateStore(this IServiceCollection services, Action<RedisCircuitStateStoreOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);

        var options = new RedisCircuitStateStoreOptions();
        configure?.Invoke(options);
        options.Validate();
        var configuration = options.ConnectionString is null ? null : ParseConnectionString(options.ConnectionString);

        services.RemoveAll<ICircuitStateStore>();
        services.AddSingleton(sp =>
        {
            if (sp.GetService<IConnectionMultiplexer>() is { } registered)
            {
                return new RedisCircuitStateStore(registered, options);
            }

            if (configuration is null)
            {
                throw new InvalidOperationException(
                    $"No IConnectionMultiplexer is registered and {nameof(RedisCircuitStateStoreOptions)}.{nameof(RedisCircuitStateStoreOptions.ConnectionString)} is not set.");
            }

            // Connect in the background: resolving the store (building the first pipeline) never waits for the network.
            var endpoints = string.Join(",", configuration.EndPoints.Select(endpoint => endpoint.ToString()));
            var connecting = Task.Run(async () => (IConnectionMultiplexer)await ConnectionMultiplexer.ConnectAsync(configuration).ConfigureAwait(false));
            return new RedisCircuitStateStore(connecting, endpoints, options, ownsConnection: true);
        });
        services.AddSingleton<ICircuitStateStore>(static sp => sp.GetRequiredService<RedisCircuitStateStore>());
        return services;
    }

    private static ConfigurationOptions ParseConnectionString(string connectionString)
    {
        var configuration = RedisConnectionString.Parse(connectionString);

        // Start even when Redis is down: the breaker fails open and StackExchange.Redis reconnects in the background.
        // While disconnected, commands fail at once instead of queueing until the breaker's timeout.
        configuration.AbortOnConnectFail = false;
        configuration.BacklogPolicy = BacklogPolicy.FailFast;
        return configuration;
    }
}
