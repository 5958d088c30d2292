using System.Net;
using System.Text;
using Polly.Distributed.CircuitBreaker.Redis;
using Polly.Distributed.CircuitBreaker.Redis.Internal;
using StackExchange.Redis;

namespace Polly.Distributed.CircuitBreaker.Cli.Stores;

/// <summary>
/// The circuits under a Redis key prefix: SCAN with MATCH on every master (so a cluster is listed whole), then one HGETALL
/// per key. Hashes are parsed by the store's own mapping; a key of another type is shown, flagged.
/// </summary>
internal sealed class RedisCircuitCatalog : ICircuitCatalog
{
    private const int ScanPageSize = 500;
    private const int ReadsInFlight = 200;
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly ConnectionMultiplexer _connection;
    private readonly RedisCircuitStateStore _store;
    private readonly string _keyPrefix;
    private readonly string _endpoints;
    private readonly int _database;
    private readonly TimeProvider _clock;

    private RedisCircuitCatalog(ConnectionMultiplexer connection, ConfigurationOptions configuration, string keyPrefix, TimeSpan requestTimeout, TimeProvider clock)
    {
        _connection = connection;
        _clock = clock;
        _keyPrefix = keyPrefix;
        _endpoints = Describe(configuration.EndPoints);
        _database = configuration.DefaultDatabase ?? 0;
        RequestTimeout = requestTimeout;
        _store = new RedisCircuitStateStore(connection, new RedisCircuitStateStoreOptions { KeyPrefix = keyPrefix, Database = _database });
    }

    public string Location => $"Redis prefix '{_keyPrefix}' at {_endpoints}";

    public ICircuitStateStore Store => _store;

    public TimeSpan RequestTimeout { get; }

    /// <summary>Connects; <paramref name="clock"/> turns a key's remaining time to live (<c>PTTL</c>, which every Redis version has) into its expiry.</summary>
    public static async Task<ICircuitCatalog> ConnectAsync(ConfigurationOptions configuration, string keyPrefix, TimeSpan requestTimeout, TimeProvider clock, CancellationToken cancellationToken)
    {
        var milliseconds = (int)Math.Min(int.MaxValue, requestTimeout.TotalMilliseconds);

        // Fail at once with the reason, rather than connect in the background as a breaker's store does.
        configuration.AbortOnConnectFail = true;
        configuration.ConnectRetry = 1;
        configuration.ConnectTimeout = milliseconds;
        configuration.SyncTimeout = milliseconds;
        configuration.AsyncTimeout = milliseconds;
        configuration.BacklogPolicy = BacklogPolicy.FailFast;
        configuration.ClientName ??= "circuitbreaker-cli";

        var endpoints = Describe(configuration.EndPoints);
        ConnectionMultiplexer connection;
        try
        {
            connection = await ConnectionMultiplexer.ConnectAsync(configuration).WaitAsync(requestTimeout * 2, cancellationToken).ConfigureAwait(false);
        }
        catch (RedisConnectionException ex) when (ex.FailureType == ConnectionFailureType.AuthenticationFailure || IsRefusal(ex.InnerException))
        {
            throw CommandFailedException.Store($"Redis at {endpoints} refused the credentials", ex);
        }
        catch (RedisConnectionException ex)
        {
            throw CommandFailedException.Store($"cannot reach Redis at {endpoints} ({ex.FailureType}; waited up to {StoreRequest.Describe(requestTimeout)})", ex);
        }
        catch (TimeoutException ex)
        {
            throw CommandFailedException.Store($"cannot reach Redis at {endpoints}: no connection within {StoreRequest.Describe(requestTimeout * 2)}", ex);
        }

        return new RedisCircuitCatalog(connection, configuration, keyPrefix, requestTimeout, clock);
    }

    /// <summary>Names endpoints as host:port, without the address family StackExchange.Redis prints for host names.</summary>
    public static string Describe(EndPointCollection endpoints) => string.Join(",", endpoints.Select(Describe));

    public async Task<IReadOnlyList<CircuitItem>> ListAsync(CancellationToken cancellationToken)
    {
        var pattern = EscapeGlob(_keyPrefix) + "*";
        var keys = new HashSet<RedisKey>();
        foreach (var endpoint in _connection.GetEndPoints())
        {
            var server = _connection.GetServer(endpoint);
            if (!server.IsConnected)
            {
                throw CommandFailedException.Store($"Redis server {Describe(endpoint)} is not connected, so its circuits cannot be listed");
            }

            // Replicas hold the same keys as their master.
            if (server.IsReplica)
            {
                continue;
            }

            await foreach (var key in server.KeysAsync(_database, pattern, ScanPageSize).WithCancellation(cancellationToken).ConfigureAwait(false))
            {
                keys.Add(key);
            }
        }

        var items = new List<CircuitItem>(keys.Count);
        foreach (var batch in keys.Chunk(ReadsInFlight))
        {
            var read = await Task.WhenAll(batch.Select(key => ReadKeyAsync(key, cancellationToken))).ConfigureAwait(false);
            items.AddRange(read.OfType<CircuitItem>());
        }

        return [.. items.OrderBy(item => item.Id, StringComparer.Ordinal)];
    }

    public Task<CircuitItem?> FindAsync(string circuitId, CancellationToken cancellationToken) =>
        ReadKeyAsync(_keyPrefix + circuitId, cancellationToken);

    public CommandFailedException? Explain(Exception exception)
    {
        var error = exception is CircuitStateStoreException { InnerException: { } inner } ? inner : exception;
        var where = $"Redis at {_endpoints}";
        return error switch
        {
            RedisConnectionException connection when connection.FailureType == ConnectionFailureType.AuthenticationFailure =>
                CommandFailedException.Store($"{where} refused the credentials", error),
            RedisServerException server when IsRefusal(server) => CommandFailedException.Store($"{where} refused the credentials", error),
            RedisServerException server when server.Message.StartsWith("NOPERM", StringComparison.Ordinal) =>
                CommandFailedException.Store($"{where} denied the command: {server.Message}", error),
            RedisConnectionException connection => CommandFailedException.Store($"cannot reach {where} ({connection.FailureType})", error),
            RedisTimeoutException => CommandFailedException.Store($"{where} gave no answer within {StoreRequest.Describe(RequestTimeout)}", error),
            TimeoutException timeout => CommandFailedException.Store($"{where} gave {timeout.Message}", error),
            RedisException redis => CommandFailedException.Store($"{where}: {redis.Message}", error),
            CircuitStateStoreException store => CommandFailedException.Store(store.Message, error),
            _ => null,
        };
    }

    public async ValueTask DisposeAsync() => await _connection.DisposeAsync().ConfigureAwait(false);

    private static bool IsRefusal(Exception? exception) =>
        exception is RedisServerException server
        && (server.Message.StartsWith("NOAUTH", StringComparison.Ordinal) || server.Message.StartsWith("WRONGPASS", StringComparison.Ordinal));

    private static string Describe(EndPoint endpoint) => endpoint switch
    {
        DnsEndPoint dns => $"{dns.Host}:{dns.Port}",
        _ => endpoint.ToString() ?? "?",
    };

    // SCAN's MATCH is a glob: a prefix holding * ? [ ] or \ must match itself only.
    private static string EscapeGlob(string text)
    {
        var escaped = new StringBuilder(text.Length);
        foreach (var c in text)
        {
            if (c is '*' or '?' or '[' or ']' or '\\')
            {
                escaped.Append('\\');
            }

            escaped.Append(c);
        }

        return escaped.ToString();
    }

    private static string Text(RedisValue value)
    {
        var bytes = (byte[])value!;
        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            // Bytes that are not UTF-8 (which breakers read as malformed) are shown as escapes, not as replacement characters.
            var shown = new StringBuilder(bytes.Length * 2);
            foreach (var b in bytes)
            {
                shown.Append(b is >= 0x20 and < 0x7f ? ((char)b).ToString() : $"\\x{b:x2}");
            }

            return shown.ToString();
        }
    }

    private async Task<CircuitItem?> ReadKeyAsync(RedisKey key, CancellationToken cancellationToken)
    {
        var id = ((string)key!)[_keyPrefix.Length..];
        var database = _connection.GetDatabase(_database);
        HashEntry[] fields;
        TimeSpan? timeToLive;
        try
        {
            (fields, timeToLive) = await StoreRequest.WithinAsync(
                RequestTimeout,
                async _ =>
                {
                    var read = database.HashGetAllAsync(key);
                    var expiry = database.KeyTimeToLiveAsync(key);
                    return (await read.ConfigureAwait(false), await expiry.ConfigureAwait(false));
                },
                cancellationToken).ConfigureAwait(false);
        }
        catch (RedisServerException ex) when (ex.Message.StartsWith("WRONGTYPE", StringComparison.Ordinal))
        {
            // Not ours to read or delete; breakers fail open on it with a warning naming the key.
            var type = await StoreRequest.WithinAsync(RequestTimeout, _ => database.KeyTypeAsync(key), cancellationToken).ConfigureAwait(false);
            var reason = $"the key '{key}' holds a {type.ToString().ToLowerInvariant()}, not a hash";
            return new CircuitItem(id, new StoredCircuit(CircuitSnapshot.Initial, true, null, reason), [], [], null, null);
        }

        if (fields.Length == 0)
        {
            return null;
        }

        var values = new Dictionary<string, RedisValue>(StringComparer.Ordinal);
        foreach (var field in fields)
        {
            values[(string)field.Name!] = field.Value;
        }

        var encoded = RedisCircuitHash.FieldNames
            .Select(name => RedisCircuitHash.Encode(values.TryGetValue((string)name!, out var value) ? value : RedisValue.Null))
            .ToArray();
        var attributes = CircuitItem.InSchemaOrder(values, pair => pair.Key).Select(pair => new StoredAttribute(pair.Key, Text(pair.Value))).ToList();
        var others = attributes.Where(a => !CircuitSnapshotSchema.OwnedAttributes.Contains(a.Name) && a.Name != CircuitSnapshotSchema.FailingEnvironmentsAttribute).ToList();
        var expiresAt = timeToLive is { } remaining ? _clock.GetUtcNow().ToUnixTimeMilliseconds() + (long)remaining.TotalMilliseconds : (long?)null;
        return new CircuitItem(id, RedisCircuitHash.ToEntry(encoded), attributes, others, null, expiresAt);
    }
}
