using System.Globalization;
using Polly.Distributed.CircuitBreaker.Redis.Internal;
using StackExchange.Redis;

namespace Polly.Distributed.CircuitBreaker.Redis;

/// <summary>
/// Keeps circuit state in Redis or Valkey: one hash per circuit, with the field names of the shared schema and numbers as decimal strings.
/// </summary>
/// <remarks>
/// Every write is a single Lua script, so each is one atomic round trip: the last-writer-wins write (skipped when a newer
/// state is stored), the compare-and-set, the failure count and the probe claim. With
/// <see cref="RedisCircuitStateStoreOptions.ItemExpiry"/> set, the same script sets the key's expiry. Reconnection is
/// StackExchange.Redis's own.
/// </remarks>
public sealed class RedisCircuitStateStore : ICircuitStateStore, IDisposable
{
    private readonly Task<IConnectionMultiplexer> _connection;
    private readonly string _configuredEndpoints;
    private readonly bool _ownsConnection;
    private readonly RedisCircuitStateStoreOptions _options;
    private readonly long _keepForMs;

    /// <summary>Initializes a new instance of the <see cref="RedisCircuitStateStore"/> class.</summary>
    /// <param name="connection">The connection; the caller keeps ownership.</param>
    /// <param name="options">The store options.</param>
    /// <exception cref="ArgumentException">The options are invalid.</exception>
    public RedisCircuitStateStore(IConnectionMultiplexer connection, RedisCircuitStateStoreOptions options)
        : this(Task.FromResult(connection ?? throw new ArgumentNullException(nameof(connection))), string.Empty, options, ownsConnection: false)
    {
    }

    /// <summary>
    /// A store over a connection still being made: until it is made, every command fails at once (the breaker fails open),
    /// so resolving the store never waits for the network.
    /// </summary>
    internal RedisCircuitStateStore(Task<IConnectionMultiplexer> connection, string configuredEndpoints, RedisCircuitStateStoreOptions options, bool ownsConnection)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(options.KeyPrefix);
        options.Validate();

        _connection = connection;
        _configuredEndpoints = configuredEndpoints;
        _ownsConnection = ownsConnection;
        _options = options;
        _keepForMs = options.ItemExpiry is { } expiry ? (long)expiry.TotalMilliseconds : 0;
    }

    /// <summary>Gets the endpoints of the connection, without credentials, for messages.</summary>
    internal string Endpoints => _connection.IsCompletedSuccessfully
        ? string.Join(",", _connection.Result.GetEndPoints().Select(endpoint => endpoint.ToString()))
        : _configuredEndpoints;

    internal string KeyOf(string circuitId) => _options.KeyPrefix + circuitId;

    /// <inheritdoc/>
    public async ValueTask<StoredCircuit> ReadAsync(string circuitId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(circuitId);

        var values = await CallAsync("HMGET", circuitId, db => db.HashGetAsync(KeyOf(circuitId), RedisCircuitHash.FieldNames)).ConfigureAwait(false);
        return RedisCircuitHash.ToEntry([.. values.Select(RedisCircuitHash.Encode)]);
    }

    /// <inheritdoc/>
    public async ValueTask<bool> WriteAsync(string circuitId, CircuitSnapshot snapshot, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(circuitId);
        ArgumentNullException.ThrowIfNull(snapshot);

        RedisValue[] arguments =
        [
            snapshot.StateTimestampUnixMs,
            snapshot.ProbeLeaseOwner is null ? "1" : "0",
            .. CircuitSnapshotSchema.Format(snapshot).SelectMany(pair => new RedisValue[] { pair.Key, pair.Value }),
            _keepForMs,
        ];
        var written = await CallAsync("EVALSHA", circuitId, db => db.ScriptEvaluateAsync(RedisScripts.WriteUnlessNewer, [KeyOf(circuitId)], arguments)).ConfigureAwait(false);
        return (int)written == 1;
    }

    /// <inheritdoc/>
    public async ValueTask<CircuitWriteResult> TryReplaceAsync(
        string circuitId,
        StoredCircuit expected,
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
            .. version.EncodedFields,
            .. desired.Select(value => (RedisValue)value),
            _keepForMs,
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
            _keepForMs,
        ];

        var result = await EvaluateAsync(circuitId, RedisScripts.ClaimProbe, arguments).ConfigureAwait(false);
        return new CircuitWriteResult((int)result[0] == 1, RedisCircuitHash.ToEntry(EncodedFields(result)));
    }

    /// <inheritdoc/>
    /// <remarks>
    /// One Lua script. StackExchange.Redis never resends a command it may have sent (its command retries are opt-in, and
    /// this store takes none; a command a cluster node refused with MOVED was not run), so a request is applied at most once
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
            increment.FailureThreshold,
            increment.OpenUntilUnixMs,
            increment.Count,
            increment.EnvironmentId ?? string.Empty,
            increment.MinimumEnvironments,
            increment.OpenedBy ?? string.Empty,
            increment.OpenedReason ?? string.Empty,
            _keepForMs,
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
            _ = _connection.ContinueWith(static t => t.Result.Dispose(), CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
        }
    }

    private static RedisValue[] EncodedFields(RedisResult[] result) => [.. result.Skip(1).Select(value => (RedisValue)(byte[])value!)];

    private Task<RedisResult[]> EvaluateAsync(string circuitId, string script, RedisValue[] arguments) =>
        CallAsync("EVALSHA", circuitId, async db => (RedisResult[])(await db.ScriptEvaluateAsync(script, [KeyOf(circuitId)], arguments).ConfigureAwait(false))!);

    private async Task<T> CallAsync<T>(string command, string circuitId, Func<IDatabase, Task<T>> call)
    {
        if (!_connection.IsCompletedSuccessfully)
        {
            throw new CircuitStateStoreException(
                _connection.IsCompleted
                    ? $"Redis {command} for circuit '{circuitId}' at {Endpoints} failed: the connection could not be made ({_connection.Exception?.InnerException?.GetType().Name})."
                    : $"Redis {command} for circuit '{circuitId}' at {Endpoints} failed: the connection is still being made.")
            {
                Kind = CircuitStateStoreFailureKind.Unreachable,
            };
        }

        try
        {
            return await call(_connection.Result.GetDatabase(_options.Database)).ConfigureAwait(false);
        }
        catch (RedisException ex)
        {
            throw new CircuitStateStoreException(
                $"Redis {command} for circuit '{circuitId}' (key '{KeyOf(circuitId)}') at {Endpoints} failed: {ex.GetType().Name}: {ex.Message}",
                ex)
            {
                Kind = ex switch
                {
                    RedisConnectionException => CircuitStateStoreFailureKind.Unreachable,
                    RedisServerException when ex.Message.StartsWith("BUSY", StringComparison.Ordinal) || ex.Message.StartsWith("LOADING", StringComparison.Ordinal) => CircuitStateStoreFailureKind.Throttled,
                    _ => CircuitStateStoreFailureKind.Other,
                },
            };
        }
    }
}
