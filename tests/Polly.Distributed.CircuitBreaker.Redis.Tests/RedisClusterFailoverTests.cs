using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;

namespace Polly.Distributed.CircuitBreaker.Redis.Tests;

/// <summary>
/// Three execution environments, each with its own cluster connection built by AddRedisCircuitStateStore, make Atomic-mode
/// calls on four circuits (every one in the slots of one master, keys without a hashtag) while that master fails over, on
/// a cluster of the test's own.
/// </summary>
public sealed class RedisClusterFailoverTests : IAsyncLifetime
{
    private const int Environments = 3;
    private const int Circuits = 4;
    private const string KeyPrefix = "failover:";

    private static readonly TimeSpan NodeTimeout = TimeSpan.FromSeconds(2);

    // After every node agrees on the new master, a client may still route by its old slot map until it learns the new one.
    private static readonly TimeSpan ClientCatchUp = TimeSpan.FromSeconds(5);

    private readonly ITestOutputHelper _output = TestContext.Current.TestOutputHelper!;
    private OwnedRedisCluster? _cluster;
    private ConnectionMultiplexer? _admin;

    public async ValueTask InitializeAsync()
    {
        _cluster = await OwnedRedisCluster.StartAsync(NodeTimeout);
        var configuration = ConfigurationOptions.Parse(_cluster.Endpoints);
        configuration.AllowAdmin = true;
        configuration.AbortOnConnectFail = false;
        _admin = await ConnectionMultiplexer.ConnectAsync(configuration);
    }

    public ValueTask DisposeAsync()
    {
        _admin?.Dispose();
        _cluster?.Dispose();
        return default;
    }

    [Fact]
    public async Task ReplicaPromoted_ConcurrentAtomicCalls_StateSurvivesCallsFailOpenNothingCountedTwice()
    {
        var run = await RunThroughFailoverAsync(crash: false);

        Assert.Empty(run.WrongOutcomes);
        Assert.All(run.Survivors, survivor => Assert.Equal(survivor.Written, survivor.ReadBack));

        // A promotion waits until the replica has every write the master acknowledged, and a command the old master
        // refused (MOVED) was not applied: the stored count is each answered failure once, plus at most those left in doubt.
        Assert.All(run.Counts, count => Assert.InRange(count.Stored, count.Counted, count.Counted + count.InDoubt));
        AssertFailedOpenOnlyDuringFailover(run);
    }

    [Fact]
    public async Task MasterKilled_ConcurrentAtomicCalls_ReplicaTakesOverCallsFailOpenNothingCountedTwice()
    {
        var run = await RunThroughFailoverAsync(crash: true);

        Assert.Empty(run.WrongOutcomes);
        Assert.All(run.Survivors, survivor => Assert.Equal(survivor.Written, survivor.ReadBack));

        // Replication is asynchronous: a failure the master acknowledged in its last moments may not have reached the
        // replica, so the stored count may be lower; it is never higher than the failures sent.
        Assert.All(run.Counts, count => Assert.InRange(count.Stored, count.CountedAfterFailover, count.Counted + count.InDoubt));
        AssertFailedOpenOnlyDuringFailover(run);
    }

    private void AssertFailedOpenOnlyDuringFailover(FailoverRun run)
    {
        _output.WriteLine(
            $"{run.Calls} calls; failover took {run.Failover.TotalMilliseconds:0} ms; store failures: {run.StoreFailures}, " +
            $"the last {run.LastStoreFailure.TotalMilliseconds:0} ms after the failover began; " +
            $"counts (stored/counted/in doubt): {string.Join(", ", run.Counts.Select(c => $"{c.Stored}/{c.Counted}/{c.InDoubt}"))}");

        Assert.True(run.Calls > 200, $"Only {run.Calls} calls were made.");
        Assert.Equal(0, run.StoreFailuresBeforeFailover);
        Assert.InRange(run.LastStoreFailure, TimeSpan.Zero, run.Failover + ClientCatchUp);
        Assert.All(run.Counts, count => Assert.True(count.CountedAfterFailover > 0, "The store never answered a failure count after the failover."));
    }

    private async Task<FailoverRun> RunThroughFailoverAsync(bool crash)
    {
        var (master, replica) = await FirstMasterAndReplicaAsync();
        var circuitIds = CircuitIdsServedBy(master, Circuits);
        var survivorIds = CircuitIdsServedBy(master, 3);

        var providers = Enumerable.Range(0, Environments)
            .Select(_ => new ServiceCollection()
                .AddRedisCircuitStateStore(o =>
                {
                    o.ConnectionString = _cluster!.Endpoints;
                    o.KeyPrefix = KeyPrefix;
                })
                .BuildServiceProvider())
            .ToArray();
        try
        {
            var connected = providers.Select(provider => provider.GetRequiredService<ICircuitStateStore>()).ToArray();
            foreach (var store in connected)
            {
                await WaitUntilAnsweringAsync(store, [.. circuitIds, .. survivorIds]);
            }

            var stores = connected.Select(store => new RecordingCircuitStateStore(store)).ToArray();

            var written = survivorIds
                .Select((id, i) => new CircuitSnapshot
                {
                    State = StoredCircuitState.Open,
                    FailureCount = 10 + i,
                    NextAttemptUnixMs = 1_900_000_000_000 + i,
                    LastFailureUnixMs = 1_800_000_000_000 + i,
                    ConsecutiveOpens = i,
                    StateTimestampUnixMs = 1_800_000_000_000 + i,
                })
                .ToArray();
            for (var i = 0; i < survivorIds.Length; i++)
            {
                Assert.True(await stores[0].WriteAsync(survivorIds[i], written[i], CancellationToken.None));
            }

            await WaitUntilReplicatedAsync(master, replica);

            var wrongOutcomes = new ConcurrentQueue<string>();
            var calls = 0;
            using var stop = new CancellationTokenSource();
            var workers = stores
                .SelectMany(store => circuitIds.Select(id => Task.Run(() => CallUntilStoppedAsync(Build(store, id), id, wrongOutcomes, () => Interlocked.Increment(ref calls), stop.Token))))
                .ToArray();

            await Task.Delay(TimeSpan.FromSeconds(1));
            var failoverStarted = Stopwatch.GetTimestamp();
            if (crash)
            {
                _cluster!.Kill(((IPEndPoint)master.EndPoint!).Port);
            }
            else
            {
                await _admin!.GetServer(replica.EndPoint!).ExecuteAsync("CLUSTER", "FAILOVER");
            }

            await WaitUntilPromotedAsync(replica, crash ? master : null);
            var failover = Stopwatch.GetElapsedTime(failoverStarted);
            await Task.Delay(ClientCatchUp + TimeSpan.FromSeconds(1));
            var failoverSettled = failoverStarted + (long)((failover + ClientCatchUp).TotalSeconds * Stopwatch.Frequency);

            // A store that showed pressure (the failover's timeouts) takes each process's failures once per read
            // interval, which the failover stretched: the calls go on until every circuit has had a count answered.
            var settling = Stopwatch.StartNew();
            while (circuitIds.Any(id => stores.Sum(store => store.CountedSince(id, failoverSettled)) == 0) && settling.Elapsed < TimeSpan.FromSeconds(30))
            {
                await Task.Delay(250);
            }

            await stop.CancelAsync();
            await Task.WhenAll(workers);
            // Failures held back until their process's next request is due are still sent after the calls stop: the
            // counts are read once no answer has changed them for three seconds.
            var quiet = Stopwatch.StartNew();
            var lastTotal = -1;
            while (quiet.Elapsed < TimeSpan.FromSeconds(3) && settling.Elapsed < TimeSpan.FromSeconds(60))
            {
                foreach (var store in stores)
                {
                    await store.DrainAsync(TimeSpan.FromSeconds(10));
                }

                var total = circuitIds.Sum(id => stores.Sum(store => store.Counted(id) + store.InDoubt(id)));
                if (total != lastTotal)
                {
                    (lastTotal, quiet) = (total, Stopwatch.StartNew());
                }

                await Task.Delay(250);
            }

            var reader = stores[0];
            var counts = new List<FailoverCount>();
            foreach (var id in circuitIds)
            {
                var stored = (await reader.ReadAsync(id, CancellationToken.None)).Snapshot;
                Assert.Equal(StoredCircuitState.Closed, stored.State);
                counts.Add(new FailoverCount(
                    stored.FailureCount,
                    stores.Sum(store => store.Counted(id)),
                    stores.Sum(store => store.InDoubt(id)),
                    stores.Sum(store => store.CountedSince(id, failoverSettled))));
            }

            var survivors = new List<(CircuitSnapshot Written, CircuitSnapshot ReadBack)>();
            for (var i = 0; i < survivorIds.Length; i++)
            {
                survivors.Add((written[i], (await reader.ReadAsync(survivorIds[i], CancellationToken.None)).Snapshot));
            }

            var failures = stores.SelectMany(store => store.FailureTimestamps).ToArray();
            return new FailoverRun(
                [.. wrongOutcomes],
                calls,
                survivors,
                counts,
                failover,
                failures.Length,
                failures.Count(timestamp => timestamp < failoverStarted),
                failures.Length == 0 ? TimeSpan.Zero : Stopwatch.GetElapsedTime(failoverStarted, failures.Max()));
        }
        finally
        {
            foreach (var provider in providers)
            {
                await provider.DisposeAsync();
            }
        }
    }

    private static ResiliencePipeline Build(ICircuitStateStore store, string circuitId) =>
        new ResiliencePipelineBuilder()
            .AddDistributedCircuitBreaker(new DistributedCircuitBreakerStrategyOptions
            {
                CircuitId = circuitId,
                StateStore = store,
                Consistency = CircuitConsistency.Atomic,
                FailureThreshold = 1_000_000,
            })
            .Build();

    /// <summary>Alternates calls that fail and calls that succeed, each with an outcome of its own, and notes any call that got another.</summary>
    private static async Task CallUntilStoppedAsync(ResiliencePipeline pipeline, string circuitId, ConcurrentQueue<string> wrongOutcomes, Func<int> nextCall, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            var call = nextCall();
            if (call % 2 == 0)
            {
                var own = new HttpRequestException("call " + call.ToString(CultureInfo.InvariantCulture));
                var thrown = await Record.ExceptionAsync(async () => await pipeline.ExecuteAsync<int>(_ => throw own, CancellationToken.None));
                if (!ReferenceEquals(own, thrown))
                {
                    wrongOutcomes.Enqueue($"{circuitId}, failing call {call}: {thrown?.GetType().Name}: {thrown?.Message}");
                }
            }
            else
            {
                try
                {
                    var result = await pipeline.ExecuteAsync(_ => new ValueTask<int>(call), CancellationToken.None);
                    if (result != call)
                    {
                        wrongOutcomes.Enqueue($"{circuitId}, succeeding call {call}: returned {result}");
                    }
                }
                catch (Exception ex)
                {
                    wrongOutcomes.Enqueue($"{circuitId}, succeeding call {call}: {ex.GetType().Name}: {ex.Message}");
                }
            }

            // Paced, so the run leaves the rest of the suite its share of a small machine.
            await Task.Delay(40, CancellationToken.None);
        }
    }

    private async Task<(ClusterNode Master, ClusterNode Replica)> FirstMasterAndReplicaAsync()
    {
        var any = _admin!.GetEndPoints()[0];
        var nodes = await _admin.GetServer(any).ClusterNodesAsync() ?? throw new InvalidOperationException("CLUSTER NODES gave nothing.");
        var master = nodes.Nodes.Where(node => !node.IsReplica && node.Slots.Count > 0).MinBy(node => ((IPEndPoint)node.EndPoint!).Port)!;
        return (master, master.Children.Single());
    }

    private string[] CircuitIdsServedBy(ClusterNode master, int count)
    {
        var ids = new List<string>();
        while (ids.Count < count)
        {
            var id = "failover-" + Guid.NewGuid().ToString("N");
            var slot = _admin!.HashSlot(KeyPrefix + id);
            if (master.Slots.Any(range => range.From <= slot && slot <= range.To))
            {
                ids.Add(id);
            }
        }

        return [.. ids];
    }

    /// <summary>Waits until the store's connection, made in the background, answers for every circuit the test uses.</summary>
    private static async Task WaitUntilAnsweringAsync(ICircuitStateStore store, IEnumerable<string> circuitIds)
    {
        await Eventually(async () =>
        {
            try
            {
                foreach (var id in circuitIds)
                {
                    await store.ReadAsync(id, CancellationToken.None);
                }

                return true;
            }
            catch (CircuitStateStoreException)
            {
                return false;
            }
        });
    }

    /// <summary>Waits until the replica has applied everything the master has, so a crash of the master loses none of it.</summary>
    private async Task WaitUntilReplicatedAsync(ClusterNode master, ClusterNode replica)
    {
        var target = await ReplicationOffsetAsync(master.EndPoint!);
        await Eventually(async () => await ReplicationOffsetAsync(replica.EndPoint!) >= target);
    }

    private async Task<long> ReplicationOffsetAsync(EndPoint node)
    {
        var info = await _admin!.GetServer(node).InfoAsync("replication");
        var offset = info.SelectMany(group => group).Single(pair => pair.Key == "master_repl_offset").Value;
        return long.Parse(offset, CultureInfo.InvariantCulture);
    }

    /// <summary>Waits until the replica calls itself a master and every running node reports cluster_state:ok.</summary>
    private async Task WaitUntilPromotedAsync(ClusterNode replica, ClusterNode? stopped)
    {
        var running = _admin!.GetEndPoints().Where(endpoint => stopped is null || !endpoint.Equals(stopped.EndPoint)).ToArray();
        await Eventually(async () =>
        {
            try
            {
                if ((await _admin.GetServer(replica.EndPoint!).RoleAsync()).Value != "master")
                {
                    return false;
                }

                foreach (var endpoint in running)
                {
                    var info = (string?)await _admin.GetServer(endpoint).ExecuteAsync("CLUSTER", "INFO");
                    if (info is null || !info.Contains("cluster_state:ok", StringComparison.Ordinal))
                    {
                        return false;
                    }
                }

                return true;
            }
            catch (RedisException)
            {
                return false;
            }
        });
    }

    private static async Task Eventually(Func<Task<bool>> condition)
    {
        var deadline = Stopwatch.GetTimestamp() + (30 * Stopwatch.Frequency);
        while (!await condition())
        {
            if (Stopwatch.GetTimestamp() > deadline)
            {
                throw new TimeoutException("The cluster did not reach the expected state within 30 s.");
            }

            await Task.Delay(50);
        }
    }

    private sealed record FailoverCount(long Stored, int Counted, int InDoubt, int CountedAfterFailover);

    private sealed record FailoverRun(
        IReadOnlyList<string> WrongOutcomes,
        int Calls,
        IReadOnlyList<(CircuitSnapshot Written, CircuitSnapshot ReadBack)> Survivors,
        IReadOnlyList<FailoverCount> Counts,
        TimeSpan Failover,
        int StoreFailures,
        int StoreFailuresBeforeFailover,
        TimeSpan LastStoreFailure);
}
