using Polly.Distributed.CircuitBreaker.Redis.Internal;
using StackExchange.Redis;

namespace Polly.Distributed.CircuitBreaker.Cli.Stores;

/// <summary>
/// A Redis or Valkey key prefix. The connection string is read by the Redis store's own parser, in either form it accepts;
/// this class keeps it out of every text it produces.
/// </summary>
internal sealed class RedisTarget : StoreTarget
{
    private readonly ConfigurationOptions _configuration;

    private RedisTarget(ConfigurationOptions configuration, string keyPrefix)
    {
        _configuration = configuration;
        KeyPrefix = keyPrefix;
    }

    public string KeyPrefix { get; }

    /// <summary>Gets the servers named in the connection string, without credentials.</summary>
    public string Endpoints => RedisCircuitCatalog.Describe(_configuration.EndPoints);

    public override IReadOnlyList<string> Secrets => string.IsNullOrEmpty(_configuration.Password) ? [] : [_configuration.Password];

    /// <summary>Reads a connection string: <c>host:port[,password=...]</c> or <c>redis[s]://[user:password@]host[:port][/db]</c>.</summary>
    /// <exception cref="CommandFailedException">It cannot be read (a usage error; the message never repeats it).</exception>
    public static RedisTarget Parse(string connectionString, string keyPrefix)
    {
        try
        {
            var configuration = RedisConnectionString.Parse(connectionString);
            return configuration.EndPoints.Count == 0
                ? throw CommandFailedException.Usage("--redis names no server: give host:port or redis://host:port")
                : new RedisTarget(configuration, keyPrefix);
        }
        catch (ArgumentException ex)
        {
            throw CommandFailedException.Usage("--redis: " + ex.Message);
        }
    }

    public override Task<ICircuitCatalog> OpenAsync(CliEnvironment environment, TimeSpan requestTimeout, CancellationToken cancellationToken) =>
        RedisCircuitCatalog.ConnectAsync(_configuration.Clone(), KeyPrefix, requestTimeout, environment.Clock, cancellationToken);

    public override string ToString() => $"Redis prefix '{KeyPrefix}' at {Endpoints}";
}
