namespace Polly.Distributed.CircuitBreaker.Cli.Tests;

/// <summary>
/// A real store the tool runs against (dynalite or redis-server), with a table or key prefix of the test's own, and what the
/// test does to it behind the tool's back: breakers failing calls, other writers (Node processes, hostile ones).
/// </summary>
public abstract class StoreUnderTest : IAsyncDisposable
{
    public const string DynamoDb = "dynamodb";
    public const string Redis = "redis";

    public const int FailureThreshold = 3;
    public static readonly TimeSpan BreakDuration = TimeSpan.FromSeconds(30);

    /// <summary>Gets both stores, for theories that must hold on each.</summary>
    public static TheoryData<string> Kinds => [DynamoDb, Redis];

    /// <summary>Gets the options that point the tool at this store.</summary>
    public abstract string[] Arguments { get; }

    /// <summary>Gets the library's store over the same table or prefix.</summary>
    public abstract ICircuitStateStore Store { get; }

    /// <summary>Gets the first words of the location the tool names in its messages.</summary>
    public abstract string LocationStart { get; }

    public static async Task<StoreUnderTest> CreateAsync(string kind) => kind switch
    {
        DynamoDb => await DynamoDbStoreUnderTest.CreateAsync(),
        Redis => RedisStoreUnderTest.Create(),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "dynamodb or redis"),
    };

    /// <summary>Returns the tool's arguments followed by this store's options.</summary>
    public string[] Args(params string[] command) => [.. command, .. Arguments];

    /// <summary>Sets attributes of an item as another writer would: numbers as numbers (DynamoDB N), the rest as strings.</summary>
    public abstract Task SetAttributesAsync(string circuitId, params (string Name, string Text, bool IsNumber)[] attributes);

    /// <summary>
    /// Gives an item the expiry a store with an item expiry sets: <paramref name="fromNow"/> after <paramref name="clock"/>'s
    /// now, as the tool reading it with that clock sees it (DynamoDB: the attribute, in epoch seconds; Redis: the key's expiry).
    /// </summary>
    public abstract Task SetExpiryAsync(string circuitId, TimeSpan fromNow, TimeProvider clock, string attribute = "expiresAt");

    /// <summary>Reads an item's expiry as the store keeps it, or <see langword="null"/> when it has none.</summary>
    public abstract Task<TimeSpan?> ReadTimeToLiveAsync(string circuitId, TimeProvider clock, string attribute = "expiresAt");

    /// <summary>Writes an item exactly as circuitbreaker-lambda v1.x does: its eight attributes and nothing else.</summary>
    public Task WriteNodeItemAsync(string circuitId, string state, long failureCount, long nextAttemptUnixMs, long stateTimestampUnixMs) =>
        SetAttributesAsync(
            circuitId,
            (CircuitSnapshotSchema.CircuitStateAttribute, state, false),
            (CircuitSnapshotSchema.FailureCountAttribute, failureCount.ToString(System.Globalization.CultureInfo.InvariantCulture), true),
            (CircuitSnapshotSchema.SuccessCountAttribute, "0", true),
            (CircuitSnapshotSchema.NextAttemptAttribute, nextAttemptUnixMs.ToString(System.Globalization.CultureInfo.InvariantCulture), true),
            (CircuitSnapshotSchema.LastFailureTimeAttribute, stateTimestampUnixMs.ToString(System.Globalization.CultureInfo.InvariantCulture), true),
            (CircuitSnapshotSchema.ConsecutiveOpensAttribute, "0", true),
            (CircuitSnapshotSchema.StateTimestampAttribute, stateTimestampUnixMs.ToString(System.Globalization.CultureInfo.InvariantCulture), true),
            (CircuitSnapshotSchema.SchemaVersionAttribute, "1", true));

    /// <summary>Builds a breaker on the circuit, as a service of the fleet would: threshold 3, break 30 s.</summary>
    public ResiliencePipeline Breaker(string circuitId, TimeProvider clock) =>
        new ResiliencePipelineBuilder { TimeProvider = clock }
            .AddDistributedCircuitBreaker(new DistributedCircuitBreakerStrategyOptions
            {
                CircuitId = circuitId,
                StateStore = Store,
                FailureThreshold = FailureThreshold,
                BreakDuration = BreakDuration,
                MaxBreakDuration = BreakDuration,
                StoreTimeout = TimeSpan.FromSeconds(5),
            })
            .Build();

    /// <summary>Opens the circuit the way it opens in production: calls through a breaker fail until it reaches the threshold.</summary>
    public async Task OpenByFailingCallsAsync(string circuitId, TimeProvider clock)
    {
        var breaker = Breaker(circuitId, clock);
        for (var call = 0; call < FailureThreshold; call++)
        {
            await Assert.ThrowsAsync<InvalidOperationException>(async () =>
                await breaker.ExecuteAsync(_ => throw new InvalidOperationException("the dependency is down"), TestContext.Current.CancellationToken));
        }

        var stored = await Store.ReadAsync(circuitId, TestContext.Current.CancellationToken);
        Assert.Equal(StoredCircuitState.Open, stored.Snapshot.State);
    }

    /// <summary>Opens the circuit through a breaker, then gives its item the expiry a store with an item expiry would.</summary>
    public async Task OpenExpiringAsync(string circuitId, TimeProvider clock, TimeSpan fromNow, string attribute = "expiresAt")
    {
        await OpenByFailingCallsAsync(circuitId, clock);
        await SetExpiryAsync(circuitId, fromNow, clock, attribute);
    }

    public abstract ValueTask DisposeAsync();
}
