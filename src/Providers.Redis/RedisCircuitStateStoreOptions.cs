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

    /// <summary>
    /// Gets or sets how long a circuit's key is kept once everything it holds is over, so that circuits no longer used leave
    /// the server: every write sets the key's expiry (<c>PEXPIREAT</c>, in the same script) to this much time after the latest
    /// of the write, the break (<c>nextAttempt</c>) and the probe lease. An isolated circuit's key never expires
    /// (<c>PERSIST</c>), whether or not this is set. <see langword="null"/> leaves the keys' expiry as it is.
    /// </summary>
    /// <remarks>
    /// Choose it longer than the breakers' FailureWindow, MaxBreakDuration and ProbeLeaseDuration. A circuit whose key expired
    /// starts closed again.
    /// </remarks>
    /// <value>Defaults to <see langword="null"/> (keys are kept forever); when set, at least <see cref="MinimumItemExpiry"/>.</value>
    public TimeSpan? ItemExpiry { get; set; }

    /// <summary>
    /// Gets the shortest <see cref="ItemExpiry"/>: an hour, longer than any failure window or probe lease a breaker keeps in
    /// the key, so that an expiry never ends a counting episode that is still running.
    /// </summary>
    public static TimeSpan MinimumItemExpiry { get; } = TimeSpan.FromHours(1);

    // Ten years: far from any overflow of the epoch arithmetic.
    private static readonly TimeSpan LongestItemExpiry = TimeSpan.FromDays(3650);

    internal void Validate()
    {
        if (ItemExpiry is { } expiry && (expiry < MinimumItemExpiry || expiry > LongestItemExpiry))
        {
            throw new ArgumentException(
                $"The Redis {nameof(ItemExpiry)} {expiry} is out of range: use {MinimumItemExpiry} to {LongestItemExpiry.TotalDays:0} days, longer than the breakers' FailureWindow, MaxBreakDuration and ProbeLeaseDuration, or null to keep keys forever.");
        }
    }
}
