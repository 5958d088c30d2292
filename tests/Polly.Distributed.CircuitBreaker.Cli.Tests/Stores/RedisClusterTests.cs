using System.Globalization;
using System.Text.Json;
using Polly.Distributed.CircuitBreaker.Redis;
using Polly.Distributed.CircuitBreaker.TestKit;
using StackExchange.Redis;

namespace Polly.Distributed.CircuitBreaker.Cli.Tests.Stores;

/// <summary>A Redis Cluster of three masters started for the test: circuits hash to every master, and list must find them all.</summary>
public sealed class RedisClusterTests
{
    [Fact]
    public async Task List_RedisCluster_ListsTheCircuitsOfEveryMaster()
    {
        var directories = Enumerable.Range(0, 3).Select(_ => Directory.CreateTempSubdirectory("cli-cluster-")).ToList();
        var nodes = new List<ServerProcess>();
        try
        {
            foreach (var directory in directories)
            {
                nodes.Add(await ServerProcess.StartRedisAsync("--cluster-enabled", "yes", "--dir", directory.FullName, "--cluster-config-file", "nodes.conf"));
            }

            await FormClusterAsync(nodes);
            var endpoints = string.Join(",", nodes.Select(n => $"127.0.0.1:{n.Port}"));
            using var connection = await ConnectionMultiplexer.ConnectAsync(endpoints);
            var store = new RedisCircuitStateStore(connection, new RedisCircuitStateStoreOptions { KeyPrefix = "cluster:" });
            var ids = Enumerable.Range(0, 30).Select(i => "circuit-" + i.ToString("00", CultureInfo.InvariantCulture)).ToList();
            foreach (var id in ids)
            {
                await store.WriteAsync(id, CircuitSnapshot.Initial with { FailureCount = 1, StateTimestampUnixMs = 1 }, TestContext.Current.CancellationToken);
            }

            var mastersHoldingCircuits = nodes.Count(n => connection.GetServer("127.0.0.1", n.Port).Keys(pattern: "cluster:*").Any());
            Assert.True(mastersHoldingCircuits >= 2, "the circuits should spread over the masters");

            // Pointed at one node only: the tool finds the others through the cluster.
            var result = await CliRun.RunAsync("list", "--json", "--redis", $"127.0.0.1:{nodes[0].Port}", "--prefix", "cluster:");

            Assert.True(result.ExitCode == 0, result.ToString());
            using var json = JsonDocument.Parse(result.Output);
            Assert.Equal(ids, json.RootElement.EnumerateArray().Select(c => c.GetProperty("id").GetString()));
        }
        finally
        {
            nodes.ForEach(n => n.Dispose());
            directories.ForEach(d => d.Delete(recursive: true));
        }
    }

    private static async Task FormClusterAsync(IReadOnlyList<ServerProcess> nodes)
    {
        const int Slots = 16384;
        var admins = nodes.Select(n => ConnectionMultiplexer.Connect($"127.0.0.1:{n.Port},allowAdmin=true")).ToList();
        try
        {
            for (var i = 0; i < nodes.Count; i++)
            {
                var first = Slots * i / nodes.Count;
                var last = (Slots * (i + 1) / nodes.Count) - 1;
                await Server(admins[i], nodes[i]).ExecuteAsync("CLUSTER", "ADDSLOTSRANGE", first, last);
            }

            foreach (var node in nodes.Skip(1))
            {
                await Server(admins[0], nodes[0]).ExecuteAsync("CLUSTER", "MEET", "127.0.0.1", node.Port);
            }

            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (true)
            {
                var states = await Task.WhenAll(admins.Select((a, i) => Server(a, nodes[i]).ExecuteAsync("CLUSTER", "INFO")));
                if (states.All(s => s.ToString().Contains("cluster_state:ok", StringComparison.Ordinal)))
                {
                    return;
                }

                Assert.True(DateTime.UtcNow < deadline, "the cluster did not form within 30 s");
                await Task.Delay(100, TestContext.Current.CancellationToken);
            }
        }
        finally
        {
            admins.ForEach(a => a.Dispose());
        }
    }

    private static IServer Server(ConnectionMultiplexer connection, ServerProcess node) => connection.GetServer("127.0.0.1", node.Port);
}
