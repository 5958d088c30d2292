namespace Polly.Distributed.CircuitBreaker.Redis;

/// <summary>
/// Options of the <see cref="RedisCircuitStateStore"/>.
/// </summary>
public sealed class RedisCircuitStateStoreOptions
{
    /// <summary>The default <see cref="KeyPrefix"/>.</summary>
    public const string DefaultKeyPrefix = "circuitbreaker:";

    /// <summary>
    /// Gets or sets the prefix of every circuit's hash key; the key is the prefix followed by the circuit id.
    /// Each script touches a single key, so a Redis Cluster can host every circuit; a <c>{hashtag}</c> in the prefix keeps
    /// every circuit in one hash slot, which is never required.
    /// </summary>
    /// <value>Defaults to <c>circuitbreaker:</c>.</value>
    public string KeyPrefix { get; set; } = DefaultKeyPrefix;

    /// <summary>
    /// Gets or sets the StackExchange.Redis connection string (for example <c>cache.example.com:6380,ssl=true,password=...</c>),
    /// used when no <c>IConnectionMultiplexer</c> is registered. It is never logged.
    /// </summary>
    public string? ConnectionString { get; set; }

    /// <summary>Gets or sets the database number.</summary>
    /// <value>Defaults to -1, the connection's default database.</value>
    public int Database { get; set; } = -1;
}
