using System.Diagnostics;
using System.Globalization;
using Polly.Distributed.CircuitBreaker.TestKit;

namespace Polly.Distributed.CircuitBreaker.Redis.Tests;

/// <summary>
/// A Redis Cluster of one test's own (3 masters, 3 replicas, without persistence), so the test can fail nodes over without
/// disturbing the shared cluster. The ports and the cluster creation come from eng/servers.sh, as for the shared cluster;
/// the node processes belong to this object and are stopped when it is disposed.
/// </summary>
internal sealed class OwnedRedisCluster : IDisposable
{
    private readonly ServerProcess[] _nodes;
    private readonly string _directory;

    private OwnedRedisCluster(ServerProcess[] nodes, string directory)
    {
        _nodes = nodes;
        _directory = directory;
    }

    /// <summary>Gets every node as host:port, comma-separated.</summary>
    public string Endpoints => string.Join(",", _nodes.Select(node => "127.0.0.1:" + node.Port.ToString(CultureInfo.InvariantCulture)));

    /// <summary>Starts six nodes and joins them into a cluster whose every node reports cluster_state:ok.</summary>
    /// <param name="nodeTimeout">How long a silent node takes to be judged failed, after which its replica takes over.</param>
    public static async Task<OwnedRedisCluster> StartAsync(TimeSpan nodeTimeout)
    {
        var executable = IntegrationEnvironment.Require(IntegrationEnvironment.RedisServerVariable);
        for (var attempt = 1; ; attempt++)
        {
            var directory = Directory.CreateTempSubdirectory("polly-redis-cluster-").FullName;
            var ports = (await RunServersScriptAsync(directory, "free_cluster_ports 6"))
                .Split(' ', StringSplitOptions.RemoveEmptyEntries)
                .Select(port => int.Parse(port, CultureInfo.InvariantCulture))
                .ToArray();
            var cluster = new OwnedRedisCluster([.. ports.Select(port => Node(executable, port, nodeTimeout, directory))], directory);
            try
            {
                await Task.WhenAll(cluster._nodes.Select(node => node.StartAsync()));
            }
            catch (InvalidOperationException) when (attempt < 3)
            {
                // A node exits when its port was taken between the search and its start: try other ports.
                cluster.Dispose();
                continue;
            }
            catch
            {
                cluster.Dispose();
                throw;
            }

            try
            {
                await RunServersScriptAsync(directory, "create_redis_cluster " + string.Join(' ', ports));
                return cluster;
            }
            catch
            {
                cluster.Dispose();
                throw;
            }
        }
    }

    /// <summary>Kills the node on <paramref name="port"/>, as a crash would.</summary>
    public void Kill(int port) => _nodes.Single(node => node.Port == port).Stop();

    public void Dispose()
    {
        foreach (var node in _nodes)
        {
            node.Dispose();
        }

        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // A node still writing its nodes.conf as it stops leaves the directory for the system's temp clean-up.
        }
    }

    private static ServerProcess Node(string executable, int port, TimeSpan nodeTimeout, string directory)
    {
        var text = port.ToString(CultureInfo.InvariantCulture);
        return new ServerProcess(
            executable,
            port,
            "--bind", "127.0.0.1",
            "--port", text,
            "--cluster-enabled", "yes",
            "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", ((long)nodeTimeout.TotalMilliseconds).ToString(CultureInfo.InvariantCulture),
            "--save", string.Empty,
            "--appendonly", "no",
            "--dir", Directory.CreateDirectory(Path.Combine(directory, text)).FullName);
    }

    private static async Task<string> RunServersScriptAsync(string logs, string command)
    {
        var start = new ProcessStartInfo("bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("source \"$0\" && " + command);
        start.ArgumentList.Add(ServersScript);
        start.Environment["SERVER_LOGS"] = logs;

        using var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start bash.");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"eng/servers.sh: '{command}' exited with code {process.ExitCode}: {await error}");
        }

        return await output;
    }

    private static string ServersScript
    {
        get
        {
            for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
            {
                var script = Path.Combine(directory.FullName, "eng", "servers.sh");
                if (File.Exists(script))
                {
                    return script;
                }
            }

            throw new InvalidOperationException($"eng/servers.sh was not found above {AppContext.BaseDirectory}.");
        }
    }
}
