using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using Microsoft.Extensions.Logging.Testing;
using Polly.CircuitBreaker;
using Polly.Distributed.CircuitBreaker.TestKit;

namespace Polly.Distributed.CircuitBreaker.DynamoDb.Tests;

public sealed class DynamoDbCircuitStateStoreTests : IDisposable
{
    private const string Table = "circuit-store";
    private readonly AmazonDynamoDBClient _client = DynamoDbServer.CreateClient();
    private readonly string _id = "store-" + Guid.NewGuid().ToString("N");

    public void Dispose() => _client.Dispose();

    [Fact]
    public async Task ReadAsync_ItemWrittenByNodeLibrary_ReadsEveryAttribute()
    {
        var store = await DynamoDbServer.CreateStoreAsync(Table, _client);
        await WriteAsNodeLibraryAsync("OPEN", failureCount: 5, nextAttempt: 1_750_000_010_000);

        var entry = await store.ReadAsync(_id, CancellationToken.None);

        Assert.Null(entry.MalformedReason);
        Assert.Equal(
            new CircuitSnapshot
            {
                State = StoredCircuitState.Open,
                FailureCount = 5,
                SuccessCount = 0,
                NextAttemptUnixMs = 1_750_000_010_000,
                LastFailureUnixMs = 1_750_000_000_000,
                ConsecutiveOpens = 1,
                StateTimestampUnixMs = 1_750_000_000_001,
                SchemaVersion = 1,
            },
            entry.Snapshot);
    }

    [Fact]
    public async Task ReadAsync_LegacyHalfItem_ReadsHalfOpen()
    {
        var store = await DynamoDbServer.CreateStoreAsync(Table, _client);
        await WriteAsNodeLibraryAsync("HALF", failureCount: 5, nextAttempt: 1);

        Assert.Equal(StoredCircuitState.HalfOpen, (await store.ReadAsync(_id, CancellationToken.None)).Snapshot.State);
    }

    [Fact]
    public async Task ReadAsync_ItemWithOnlyState_DefaultsMissingAttributes()
    {
        var store = await DynamoDbServer.CreateStoreAsync(Table, _client);
        await UpdateRawAsync("SET circuitState = :s", new() { [":s"] = new AttributeValue { S = "OPEN" } });

        var snapshot = (await store.ReadAsync(_id, CancellationToken.None)).Snapshot;

        Assert.Equal(new CircuitSnapshot { State = StoredCircuitState.Open }, snapshot);
    }

    [Fact]
    public async Task ReadAsync_MalformedItem_ReadsClosedWithReasonAndNextWriteReplacesIt()
    {
        var store = await DynamoDbServer.CreateStoreAsync(Table, _client);
        await UpdateRawAsync("SET circuitState = :s, failureCount = :f", new()
        {
            [":s"] = new AttributeValue { S = "OPEN" },
            [":f"] = new AttributeValue { S = "many" },
        });

        var malformed = await store.ReadAsync(_id, CancellationToken.None);
        var replaced = await store.TryReplaceAsync(_id, malformed, new CircuitSnapshot { FailureCount = 1 }, CancellationToken.None);

        Assert.Equal(CircuitSnapshot.Initial, malformed.Snapshot);
        Assert.Contains("failureCount 'many'", malformed.MalformedReason, StringComparison.Ordinal);
        Assert.True(replaced.Succeeded);
        var reread = await store.ReadAsync(_id, CancellationToken.None);
        Assert.Null(reread.MalformedReason);
        Assert.Equal(1, reread.Snapshot.FailureCount);
    }

    [Fact]
    public async Task WriteAsync_Item_CarriesExactlyTheSchemaAttributesAndTypes()
    {
        var store = await DynamoDbServer.CreateStoreAsync(Table, _client);

        await store.WriteAsync(_id, new CircuitSnapshot { State = StoredCircuitState.HalfOpen, FailureCount = 5, StateTimestampUnixMs = 1 }, CancellationToken.None);

        var item = await DynamoDbServer.GetRawItemAsync(_client, Table, _id);
        Assert.Equal(
            ["circuitState", "consecutiveOpens", "failureCount", "id", "lastFailureTime", "nextAttempt", "schemaVersion", "stateTimestamp", "successCount"],
            item.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("HALF-OPEN", item["circuitState"].S);
        Assert.Equal(_id, item["id"].S);
        Assert.All(item.Where(p => p.Key is not "circuitState" and not "id"), p => Assert.NotNull(p.Value.N));
        Assert.Equal("5", item["failureCount"].N);
    }

    [Fact]
    public async Task TryReplaceAsync_ItemWithOnlyForeignAttributes_ExistsAndIsReplaced()
    {
        var store = new DynamoDbCircuitStateStore(_client, new DynamoDbCircuitStateStoreOptions { TableName = Table, ReturnItemOnConditionFailure = false });
        await DynamoDbServer.CreateStoreAsync(Table, _client);
        await UpdateRawAsync("SET expiresAt = :t", new() { [":t"] = new AttributeValue { N = "1" } });

        var read = await store.ReadAsync(_id, CancellationToken.None);
        var replaced = await store.TryReplaceAsync(_id, read, new CircuitSnapshot { FailureCount = 1 }, CancellationToken.None);

        Assert.True(read.Exists);
        Assert.True(replaced.Succeeded);
        Assert.Equal("1", (await DynamoDbServer.GetRawItemAsync(_client, Table, _id))["expiresAt"].N);
    }

    [Fact]
    public async Task WriteAsync_ForeignAttributes_AreKept()
    {
        var store = await DynamoDbServer.CreateStoreAsync(Table, _client);
        await UpdateRawAsync("SET team = :t", new() { [":t"] = new AttributeValue { S = "payments" } });

        await store.WriteAsync(_id, new CircuitSnapshot { FailureCount = 2 }, CancellationToken.None);

        Assert.Equal("payments", (await DynamoDbServer.GetRawItemAsync(_client, Table, _id))["team"].S);
    }

    [Fact]
    public async Task WriteAsync_LeaseReleased_RemovesLeaseAttributes()
    {
        var store = await DynamoDbServer.CreateStoreAsync(Table, _client);
        await store.WriteAsync(_id, new CircuitSnapshot { State = StoredCircuitState.HalfOpen, ProbeLeaseOwner = "p", ProbeLeaseExpiresUnixMs = 9 }, CancellationToken.None);
        Assert.Equal("p", (await DynamoDbServer.GetRawItemAsync(_client, Table, _id))["probeLeaseOwner"].S);

        await store.WriteAsync(_id, new CircuitSnapshot { State = StoredCircuitState.HalfOpen }, CancellationToken.None);

        var item = await DynamoDbServer.GetRawItemAsync(_client, Table, _id);
        Assert.False(item.ContainsKey("probeLeaseOwner"));
        Assert.False(item.ContainsKey("probeLeaseExpires"));
    }

    [Fact]
    public async Task TryReplaceAsync_NodeLibraryWroteSinceRead_Conflicts()
    {
        var store = await DynamoDbServer.CreateStoreAsync(Table, _client);
        await WriteAsNodeLibraryAsync("CLOSED", failureCount: 1, nextAttempt: 0);
        var read = await store.ReadAsync(_id, CancellationToken.None);
        await WriteAsNodeLibraryAsync("CLOSED", failureCount: 2, nextAttempt: 0);

        var result = await store.TryReplaceAsync(_id, read, read.Snapshot with { FailureCount = 2 }, CancellationToken.None);

        Assert.False(result.Succeeded);
        Assert.Equal(2, result.Current!.Snapshot.FailureCount);
    }

    [Fact]
    public async Task TryClaimProbeAsync_LegacyHalfItem_Claims()
    {
        var store = await DynamoDbServer.CreateStoreAsync(Table, _client);
        await WriteAsNodeLibraryAsync("HALF", failureCount: 5, nextAttempt: 1);

        var claim = await store.TryClaimProbeAsync(_id, "me", 2_000, 1_000, CancellationToken.None);

        Assert.True(claim.Succeeded);
        Assert.Equal("me", claim.Current!.Snapshot.ProbeLeaseOwner);
    }

    [Fact]
    public async Task ReadAsync_MissingTable_ThrowsNamingTableAndEndpoint()
    {
        var store = new DynamoDbCircuitStateStore(_client, new DynamoDbCircuitStateStoreOptions { TableName = "no-such-table" });

        var error = await Assert.ThrowsAsync<CircuitStateStoreException>(async () => await store.ReadAsync(_id, CancellationToken.None));

        Assert.Contains("the table 'no-such-table' does not exist at http://127.0.0.1:", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WarmUpAsync_TableExists_Completes()
    {
        var store = await DynamoDbServer.CreateStoreAsync(Table, _client);

        await store.WarmUpAsync();

        Assert.False((await store.ReadAsync("polly-distributed-warm-up", CancellationToken.None)).Exists);
    }

    [Fact]
    public async Task WarmUpAsync_MissingTable_ThrowsNamingTableAndEndpoint()
    {
        var store = new DynamoDbCircuitStateStore(_client, new DynamoDbCircuitStateStoreOptions { TableName = "no-such-table" });

        var error = await Assert.ThrowsAsync<CircuitStateStoreException>(() => store.WarmUpAsync());

        Assert.Contains("'no-such-table' does not exist at http://127.0.0.1:", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WarmUpAsync_EndpointNeverAnswers_FailsWithinInitPhaseNamingTableAndEndpoint()
    {
        await using var proxy = new LoopbackFaultProxy(new Uri(DynamoDbServer.Url).Port) { Fault = LoopbackFaultProxy.ProxyFault.BlackHole };
        using var client = new AmazonDynamoDBClient(
            new Amazon.Runtime.BasicAWSCredentials("local", "local"),
            new AmazonDynamoDBConfig { ServiceURL = $"http://127.0.0.1:{proxy.Port}", AuthenticationRegion = "us-east-1" });
        var store = new DynamoDbCircuitStateStore(client, new DynamoDbCircuitStateStoreOptions { TableName = Table });

        var watch = System.Diagnostics.Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<CircuitStateStoreException>(() => store.WarmUpAsync());

        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(9), $"took {watch.Elapsed}");
        Assert.Contains($"table '{Table}' at http://127.0.0.1:{proxy.Port}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Execute_MissingTable_FailsOpenAndLogsTableName()
    {
        var logger = new FakeLogger();
        var pipeline = new ResiliencePipelineBuilder<int>()
            .AddDistributedCircuitBreaker(new DistributedCircuitBreakerStrategyOptions<int>
            {
                CircuitId = "missing-table",
                StateStore = new DynamoDbCircuitStateStore(_client, new DynamoDbCircuitStateStoreOptions { TableName = "no-such-table" }),
                Logger = logger,
                StoreTimeout = TimeSpan.FromSeconds(5),
            })
            .Build();

        Assert.Equal(5, await pipeline.ExecuteAsync(_ => new ValueTask<int>(5)));
        Assert.Contains("'no-such-table' does not exist", logger.LatestRecord.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReadAsync_UnreachableEndpoint_ThrowsNamingEndpoint()
    {
        var url = $"http://127.0.0.1:{TestKit.IntegrationEnvironment.FreeLoopbackPort()}";
        using var client = DynamoDbServer.CreateClient(url);
        var store = new DynamoDbCircuitStateStore(client, new DynamoDbCircuitStateStoreOptions { TableName = Table });

        var error = await Assert.ThrowsAsync<CircuitStateStoreException>(async () => await store.ReadAsync(_id, CancellationToken.None));

        Assert.Contains($"at {url}", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null)]
    [InlineData(4)]
    public async Task TryIncrementFailureAsync_CallerCancels_StopsWaitingForTheTable(int? expectedFailureCount)
    {
        using var server = new LoopbackDownstream { Delay = TimeSpan.FromSeconds(30) };
        using var client = DynamoDbServer.CreateClient(server.Url.ToString());
        var store = new DynamoDbCircuitStateStore(client, new DynamoDbCircuitStateStoreOptions { TableName = Table });
        var increment = new CircuitFailureIncrement(Guid.NewGuid().ToString("N"), 1_000_000, 0, 5, 2_000_000) { LastSeenFailureCount = expectedFailureCount };
        using var cancel = new CancellationTokenSource();

        var counting = store.TryIncrementFailureAsync(_id, increment, cancel.Token).AsTask();
        await server.FirstRequest.WaitAsync(TimeSpan.FromSeconds(20));
        var watch = System.Diagnostics.Stopwatch.StartNew();
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => counting);

        // The table would answer in 30 s: only the caller's token ends the wait this soon, and nothing is sent again.
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(3), $"took {watch.Elapsed}");
        Assert.Equal(1, server.Requests);
    }

    [Fact]
    public async Task TryIncrementFailureAsync_ClosedCountAlreadyAtThreshold_CountsNothing()
    {
        var store = await DynamoDbServer.CreateStoreAsync(Table, _client);
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        await store.WriteAsync(_id, new CircuitSnapshot { FailureCount = 5, LastFailureUnixMs = now - 1_000, StateTimestampUnixMs = now - 1_000 }, CancellationToken.None);

        var result = await store.TryIncrementFailureAsync(_id, new CircuitFailureIncrement(Guid.NewGuid().ToString("N"), now, now - 60_000, 5, now + 10_000), CancellationToken.None);

        // The request that reached the threshold opens the circuit; a later count neither adds to it nor opens it again.
        Assert.Equal(CircuitIncrementOutcome.NotCounted, result.Outcome);
        Assert.Equal((StoredCircuitState.Closed, 5L, now - 1_000), (result.Current.Snapshot.State, result.Current.Snapshot.FailureCount, result.Current.Snapshot.LastFailureUnixMs));
        Assert.Equal("5", (await DynamoDbServer.GetRawItemAsync(_client, Table, _id))["failureCount"].N);
    }

    [Theory]
    [InlineData(null, 1)]
    [InlineData(0L, 0)]
    public async Task TryIncrementFailureAsync_CountReachesThreshold_ReportsItBeforeTheOpeningUnlessBothAreOneRequest(long? hint, int reports)
    {
        var store = await DynamoDbServer.CreateStoreAsync(Table, _client);
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var reached = new List<CircuitSnapshot>();
        var increment = new CircuitFailureIncrement(Guid.NewGuid().ToString("N"), now, now - 60_000, 1, now + 10_000)
        {
            LastSeenFailureCount = hint,
            ThresholdReached = stored => reached.Add(stored.Snapshot),
        };

        var result = await store.TryIncrementFailureAsync(_id, increment, CancellationToken.None);

        Assert.Equal(CircuitIncrementOutcome.CountedAndOpened, result.Outcome);
        Assert.Equal(reports, reached.Count);
        Assert.All(reached, snapshot => Assert.Equal((StoredCircuitState.Closed, 1L), (snapshot.State, snapshot.FailureCount)));
    }

    [Fact]
    public async Task TryIncrementFailureAsync_ClosedCountAtThresholdWithAQuorum_StillCountsTowardsTheQuorum()
    {
        var store = await DynamoDbServer.CreateStoreAsync(Table, _client);
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var increment = new CircuitFailureIncrement(Guid.NewGuid().ToString("N"), now, now - 60_000, 2, now + 10_000) { MinimumEnvironments = 2, EnvironmentId = "env-a" };
        await store.TryIncrementFailureAsync(_id, increment, CancellationToken.None);
        await store.TryIncrementFailureAsync(_id, increment with { WriteId = Guid.NewGuid().ToString("N") }, CancellationToken.None);

        var result = await store.TryIncrementFailureAsync(_id, increment with { WriteId = Guid.NewGuid().ToString("N"), EnvironmentId = "env-b" }, CancellationToken.None);

        Assert.Equal(CircuitIncrementOutcome.CountedAndOpened, result.Outcome);
    }

    [Fact]
    public async Task Execute_AgainstDynamoDb_OpensSharedCircuitForOtherProcess()
    {
        var first = await BuildPipelineAsync();
        var second = await BuildPipelineAsync();

        for (var i = 0; i < 2; i++)
        {
            await Assert.ThrowsAsync<HttpRequestException>(async () => await first.ExecuteAsync<int>(_ => throw new HttpRequestException()));
        }

        await Assert.ThrowsAsync<BrokenCircuitException>(async () => await second.ExecuteAsync(_ => new ValueTask<int>(1)));
        Assert.Equal("OPEN", (await DynamoDbServer.GetRawItemAsync(_client, Table, _id))["circuitState"].S);
    }

    private async Task<ResiliencePipeline<int>> BuildPipelineAsync() =>
        new ResiliencePipelineBuilder<int>()
            .AddDistributedCircuitBreaker(new DistributedCircuitBreakerStrategyOptions<int>
            {
                CircuitId = _id,
                StateStore = await DynamoDbServer.CreateStoreAsync(Table),
                FailureThreshold = 2,
                StoreTimeout = TimeSpan.FromSeconds(5),
            })
            .Build();

    // The write circuitbreaker-lambda v1.x makes: one UpdateItem that SETs its eight attributes.
    private Task WriteAsNodeLibraryAsync(string state, long failureCount, long nextAttempt) =>
        UpdateRawAsync(
            "SET circuitState = :s, failureCount = :f, successCount = :sc, nextAttempt = :n, lastFailureTime = :l, consecutiveOpens = :c, stateTimestamp = :t, schemaVersion = :v",
            new()
            {
                [":s"] = new AttributeValue { S = state },
                [":f"] = new AttributeValue { N = failureCount.ToString(System.Globalization.CultureInfo.InvariantCulture) },
                [":sc"] = new AttributeValue { N = "0" },
                [":n"] = new AttributeValue { N = nextAttempt.ToString(System.Globalization.CultureInfo.InvariantCulture) },
                [":l"] = new AttributeValue { N = "1750000000000" },
                [":c"] = new AttributeValue { N = "1" },
                [":t"] = new AttributeValue { N = "1750000000001" },
                [":v"] = new AttributeValue { N = "1" },
            });

    private async Task UpdateRawAsync(string expression, Dictionary<string, AttributeValue> values)
    {
        await DynamoDbServer.CreateStoreAsync(Table, _client);
        await _client.UpdateItemAsync(new UpdateItemRequest
        {
            TableName = Table,
            Key = new() { ["id"] = new AttributeValue { S = _id } },
            UpdateExpression = expression,
            ExpressionAttributeValues = values,
        });
    }
}
