using Microsoft.Extensions.DependencyInjection.Extensions;
using Polly.Distributed.CircuitBreaker;
using Polly.Distributed.CircuitBreaker.Redis;
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
    /// <exception cref="ArgumentException">The connection string cannot be parsed.</exception>
    public static IServiceCollection AddRedisCircuitStateStore(this IServiceCollection services, Action<RedisCircuitStateStoreOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);

        var options = new RedisCircuitStateStoreOptions();
        configure?.Invoke(options);
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

            return new RedisCircuitStateStore(ConnectionMultiplexer.Connect(configuration), options, ownsConnection: true);
        });
        services.AddSingleton<ICircuitStateStore>(static sp => sp.GetRequiredService<RedisCircuitStateStore>());
        return services;
    }

    private static ConfigurationOptions ParseConnectionString(string connectionString)
    {
        try
        {
            var configuration = ConfigurationOptions.Parse(connectionString);

            // Start even when Redis is down: the breaker fails open and StackExchange.Redis reconnects in the background.
            // While disconnected, commands fail at once instead of queueing until the breaker's timeout.
            configuration.AbortOnConnectFail = false;
            configuration.BacklogPolicy = BacklogPolicy.FailFast;
            return configuration;
        }
        catch (ArgumentException ex)
        {
            // The message of the parser may echo the string, password included: do not pass it on.
            throw new ArgumentException("The Redis connection string could not be parsed.", nameof(connectionString), ex.InnerException);
        }
    }
}
