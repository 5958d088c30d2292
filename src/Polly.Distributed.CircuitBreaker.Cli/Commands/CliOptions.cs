using System.CommandLine;
using Polly.Distributed.CircuitBreaker.Cli.Output;
using Polly.Distributed.CircuitBreaker.Cli.Stores;
using Polly.Distributed.CircuitBreaker.DynamoDb;
using Polly.Distributed.CircuitBreaker.Redis;

namespace Polly.Distributed.CircuitBreaker.Cli.Commands;

/// <summary>The options every command takes (the store, its timeout, JSON output), and those a few share.</summary>
internal sealed class CliOptions
{
    /// <summary>The environment variable whose value is the default of <c>--redis</c>, as for the sidecar.</summary>
    public const string RedisEnvironmentVariable = "CIRCUITBREAKER_REDIS";

    public static readonly TimeSpan DefaultRequestTimeout = TimeSpan.FromSeconds(5);

    public Option<string?> Table { get; } = new("--table")
    {
        Description = $"DynamoDB table of the circuits [default: ${DynamoDbCircuitStateStoreOptions.TableNameEnvironmentVariable}]",
        HelpName = "name",
        Recursive = true,
    };

    public Option<string?> Endpoint { get; } = new("--endpoint")
    {
        Description = "DynamoDB endpoint other than AWS's, e.g. http://127.0.0.1:8000 for dynalite or DynamoDB Local",
        HelpName = "url",
        Recursive = true,
    };

    public Option<string?> Region { get; } = new("--region")
    {
        Description = "AWS region [default: the SDK's, from AWS_REGION or the profile]",
        HelpName = "region",
        Recursive = true,
    };

    public Option<string?> Redis { get; } = new("--redis")
    {
        Description = $"Redis or Valkey instead of DynamoDB: host:port[,password=...][,ssl=true] or redis[s]://[user:password@]host[:port][/db] [default: ${RedisEnvironmentVariable}]",
        HelpName = "connection",
        Recursive = true,
    };

    public Option<string?> Prefix { get; } = new("--prefix")
    {
        Description = $"Redis key prefix of the circuits [default: {RedisCircuitStateStoreOptions.DefaultKeyPrefix}]",
        HelpName = "prefix",
        Recursive = true,
    };

    public Option<string?> ExpiryAttribute { get; } = new("--expiry-attribute")
    {
        Description = $"DynamoDB attribute of the items' expiry, the table's time-to-live attribute [default: {DynamoDbCircuitStateStoreOptions.DefaultItemExpiryAttributeName}]",
        HelpName = "name",
        Recursive = true,
    };

    public Option<TimeSpan?> Timeout { get; } = new("--timeout")
    {
        Description = "How long one store request may take, e.g. 500ms, 5s [default: 5s]",
        HelpName = "duration",
        CustomParser = result => Durations.ParseArgument(result),
        Recursive = true,
    };

    public Option<bool> Json { get; } = new("--json")
    {
        Description = "Write JSON for scripts (stable property names) instead of text for people",
        Recursive = true,
    };

    /// <summary>Gets the option that guards a change: <c>--if-state closed|open|half-open|isolated</c>.</summary>
    public Option<string?> IfState { get; } = CreateIfState();

    public IEnumerable<Option> Global => [Table, Endpoint, Region, Redis, Prefix, ExpiryAttribute, Timeout, Json];

    public static Argument<string> CircuitIdArgument() => new("id")
    {
        Description = "The circuit id",
    };

    /// <summary>
    /// Chooses the store: an explicit <c>--redis</c> or <c>--table</c>/<c>--endpoint</c>/<c>--region</c> wins (both is an
    /// error); otherwise <c>CIRCUITBREAKER_REDIS</c>, then <c>CIRCUITBREAKER_TABLE</c>, as the sidecar reads them.
    /// </summary>
    /// <exception cref="CommandFailedException">No store, or two, or options of the other store (a usage error).</exception>
    public StoreTarget BindStore(ParseResult parse, CliEnvironment environment)
    {
        var redis = parse.GetValue(Redis);
        var table = parse.GetValue(Table);
        var endpoint = parse.GetValue(Endpoint);
        var region = parse.GetValue(Region);
        var prefix = parse.GetValue(Prefix);
        var expiryAttribute = parse.GetValue(ExpiryAttribute);
        var dynamoDbNamed = table is not null || endpoint is not null || region is not null;

        if (redis is not null && dynamoDbNamed)
        {
            throw CommandFailedException.Usage("name one store: --redis, or --table with --endpoint or --region");
        }

        if (redis is null && !dynamoDbNamed)
        {
            redis = environment.Variable(RedisEnvironmentVariable);
        }

        if (redis is not null && expiryAttribute is not null)
        {
            throw CommandFailedException.Usage("--expiry-attribute is for DynamoDB: a Redis key's expiry is the key's own");
        }

        if (redis is not null)
        {
            return RedisTarget.Parse(redis, prefix ?? RedisCircuitStateStoreOptions.DefaultKeyPrefix);
        }

        if (prefix is not null)
        {
            throw CommandFailedException.Usage("--prefix is for Redis: name the server with --redis");
        }

        table ??= environment.Variable(DynamoDbCircuitStateStoreOptions.TableNameEnvironmentVariable);
        if (table is null)
        {
            throw CommandFailedException.Usage(
                $"no store named: pass --table NAME (or set {DynamoDbCircuitStateStoreOptions.TableNameEnvironmentVariable}) for DynamoDB, " +
                $"or --redis CONNECTION (or set {RedisEnvironmentVariable}) for Redis");
        }

        if (endpoint is not null && !Uri.TryCreate(endpoint, UriKind.Absolute, out _))
        {
            throw CommandFailedException.Usage($"--endpoint '{endpoint}' is not an absolute URL such as http://127.0.0.1:8000");
        }

        return new DynamoDbTarget(table, endpoint, region, expiryAttribute ?? DynamoDbCircuitStateStoreOptions.DefaultItemExpiryAttributeName);
    }

    private static Option<string?> CreateIfState()
    {
        var option = new Option<string?>("--if-state")
        {
            Description = "Change the circuit only if it is in this state, and did not move before the change was written (else exit 4)",
            HelpName = string.Join("|", CircuitStateNames.All),
        };
        option.AcceptOnlyFromAmong([.. CircuitStateNames.All]);
        return option;
    }
}
