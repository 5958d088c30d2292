using System.Globalization;
using Polly.Distributed.CircuitBreaker.Redis.Internal;
using StackExchange.Redis;

namespace Polly.Distributed.CircuitBreaker.Redis;

/// <summary>
/// Keeps circuit state in Redis or Valkey: one hash per circuit, with the field names of the shared schema and numbers as decimal strings.
/// </summary>
/// <remarks>
/// Unconditional writes are one <c>HSET</c> (with <c>HDEL</c> of lease fields, in the same transaction); conditional writes
/// and the probe claim are single Lua scripts, so each is one atomic round trip. Reconnection is StackExchange.Redis's own.
/// </remarks>
public sealed class RedisCircuitStateStore : ICircuitStateStore, IDisposable
{
    private static readonly RedisValue[] LeaseFields = [.. CircuitSnapshotSchema.LeaseAttributes.Select(name => (RedisValue)name)];

    private readonly IConnectionMultiplexer _connection;
    private readonly bool _ownsConnection;
    private readonly RedisCircuitStateStoreOptions _options;

    /// <summary>Initializes a new instance of the <see cref="RedisCircuitStateStore"/> class.</summary>
    /// <param name="connection">The connection; the caller keeps ownership.</param>
    /// <param name="options">The store options.</param>
    public RedisCircuitStateStore(IConnectionMultiplexer connection, RedisCircuitStateStoreOptions options)
        : this(connection, options, ownsConnection: false)
    {
    }

    internal RedisCircuitStateStore(IConnectionMultiplexer connection, RedisCircuitStateStoreOptions options, bool ownsConnection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(options.KeyPrefix);

        _connection = connection;
        _ownsConnection = ownsConnection;
        _options = options;
    }

    /// <summary>Gets the endpoints of the connection, without credentials, for messages.</summary>
    public string Endpoints => string.Join(",", _connection.GetEndPoints().Select(endpoint => endpoint.ToString()));

    /// <summary>Returns the key of a circuit's hash.</summary>
    /// <param name="circuitId">The circuit id.</param>
    /// <returns>The key prefix followed by the circuit id.</returns>
    public string KeyOf(string circuitId) => _options.KeyPrefix + circuitId;

    /// <inheritdoc/>
    public async ValueTask<CircuitStateEntry> ReadAsync(string circuitId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(circuitId);

        var values = await CallAsync("HMGET", circuitId, db => db.HashGetAsync(KeyOf(circuitId), RedisCircuitHash.FieldNames)).ConfigureAwait(false);
        return RedisCircuitHash.ToEntry([.. values.Select(RedisCircuitHash.Encode)]);
    }

    /// <inheritdoc/>
    public async ValueTask WriteAsync(string circuitId, CircuitSnapshot snapshot, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(circuitId);
        ArgumentNullException.ThrowIfNull(snapshot);

        var key = KeyOf(circuitId);
        await CallAsync("HSET", circuitId, async db =>
        {
            var transaction = db.CreateTransaction();
            var set = transaction.HashSetAsync(key, RedisCircuitHash.ToHashEntries(snapshot));
            var delete = snapshot.ProbeLeaseOwner is null ? transaction.HashDeleteAsync(key, LeaseFields) : Task.FromResult(0L);
            await transaction.ExecuteAsync().ConfigureAwait(false);
            await set.ConfigureAwait(false);
            await delete.ConfigureAwait(false);
            return true;
        }).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async ValueTask<CircuitWriteResult> TryReplaceAsync(
        string circuitId,
        CircuitStateEntry expected,
        CircuitSnapshot replacement,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(circuitId);
        ArgumentNullException.ThrowIfNull(expected);
        ArgumentNullException.ThrowIfNull(replacement);

        if (expected.ConcurrencyToken is not RedisHashVersion version)
        {
            return new CircuitWriteResult(false, await ReadAsync(circuitId, cancellationToken).ConfigureAwait(false));
        }

        var desired = RedisCircuitHash.Encode(replacement);
        RedisValue[] arguments =
        [
            RedisCircuitHash.FieldNames.Length,
            .. RedisCircuitHash.FieldNames,
            .. version.EncodedFields.Select(value => (RedisValue)value),
            .. desired.Select(value => (RedisValue)value),
        ];

        var result = await EvaluateAsync(circuitId, RedisScripts.TryReplace, arguments).ConfigureAwait(false);
        return (int)result[0] == 1
            ? new CircuitWriteResult(true, RedisCircuitHash.Written(replacement))
            : new CircuitWriteResult(false, RedisCircuitHash.ToEntry(EncodedFields(result)));
    }

    /// <inheritdoc/>
    public async ValueTask<CircuitWriteResult> TryClaimProbeAsync(
        string circuitId,
        string owner,
        long leaseExpiresUnixMs,
        long nowUnixMs,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(circuitId);
        ArgumentNullException.ThrowIfNull(owner);

        RedisValue[] arguments =
        [
            RedisCircuitHash.FieldNames.Length,
            .. RedisCircuitHash.FieldNames,
            owner,
            leaseExpiresUnixMs.ToString(CultureInfo.InvariantCulture),
            nowUnixMs.ToString(CultureInfo.InvariantCulture),
        ];

        var result = await EvaluateAsync(circuitId, RedisScripts.ClaimProbe, arguments).ConfigureAwait(false);
        return new CircuitWriteResult((int)result[0] == 1, RedisCircuitHash.ToEntry(EncodedFields(result)));
    }

    /// <inheritdoc/>
    /// <remarks>
    /// One Lua script. StackExchange.Redis never resends a command it may have sent, so a request is applied at most once
    /// and <see cref="CircuitFailureIncrement.WriteId"/> is not needed here.
    /// </remarks>
    public async ValueTask<CircuitIncrementResult> TryIncrementFailureAsync(
        string circuitId,
        CircuitFailureIncrement increment,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(circuitId);
        ArgumentNullException.ThrowIfNull(increment);

        RedisValue[] arguments =
        [
            RedisCircuitHash.FieldNames.Length,
            .. RedisCircuitHash.FieldNames,
            increment.NowUnixMs,
            increment.WindowStartUnixMs,
            increment.OpenAtCount,
            increment.OpenUntilUnixMs,
        ];

        var result = await EvaluateAsync(circuitId, RedisScripts.IncrementFailure, arguments).ConfigureAwait(false);
        var outcome = (int)result[0] switch
        {
            2 => CircuitIncrementOutcome.CountedAndOpened,
            1 => CircuitIncrementOutcome.Counted,
            _ => CircuitIncrementOutcome.NotCounted,
        };
        return new CircuitIncrementResult(outcome, RedisCircuitHash.ToEntry(EncodedFields(result)));
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_ownsConnection)
        {
            _connection.Dispose();
        }
    }

    private static string[] EncodedFields(RedisResult[] result) => [.. result.Skip(1).Select(value => (string)value!)];

    private Task<RedisResult[]> EvaluateAsync(string circuitId, string script, RedisValue[] arguments) =>
        CallAsync("EVALSHA", circuitId, async db => (RedisResult[])(await db.ScriptEvaluateAsync(script, [KeyOf(circuitId)], arguments).ConfigureAwait(false))!);

    private async Task<T> CallAsync<T>(string command, string circuitId, Func<IDatabase, Task<T>> call)
    {
        try
        {
            return await call(_connection.GetDatabase(_options.Database)).ConfigureAwait(false);
        }
        catch (RedisException ex)
        {
            throw new CircuitStateStoreException(
                $"Redis {command} for circuit '{circuitId}' (key '{KeyOf(circuitId)}') at {Endpoints} failed: {ex.GetType().Name}: {ex.Message}",
                ex);
        }
    }
}
