using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;

namespace Polly.Distributed.CircuitBreaker.TestKit;

/// <summary>
/// A server a test owns (to stop and restart it on the same port), listening on 127.0.0.1.
/// </summary>
public sealed class ServerProcess : IDisposable
{
    private readonly string _fileName;
    private readonly string[] _arguments;
    private Process? _process;

    public ServerProcess(string fileName, int port, params string[] arguments)
    {
        _fileName = fileName;
        _arguments = arguments;
        Port = port;
    }

    public int Port { get; }

    /// <summary>Starts a redis-server of the test's own, without persistence, on a free loopback port.</summary>
    public static async Task<ServerProcess> StartRedisAsync(params string[] extraArguments)
    {
        var executable = IntegrationEnvironment.Require(IntegrationEnvironment.RedisServerVariable);
        var port = IntegrationEnvironment.FreeLoopbackPort();
        var server = new ServerProcess(
            executable,
            port,
            ["--bind", "127.0.0.1", "--port", port.ToString(CultureInfo.InvariantCulture), "--save", string.Empty, "--appendonly", "no", .. extraArguments]);
        return await StartOrDisposeAsync(server);
    }

    /// <summary>Starts a dynalite of the test's own on a free loopback port, keeping its data in <paramref name="dataDirectory"/> across restarts.</summary>
    public static async Task<ServerProcess> StartDynaliteAsync(string dataDirectory)
    {
        var cli = IntegrationEnvironment.Require(IntegrationEnvironment.DynaliteCliVariable);
        var port = IntegrationEnvironment.FreeLoopbackPort();
        var server = new ServerProcess("node", port, cli, "--host", "127.0.0.1", "--port", port.ToString(CultureInfo.InvariantCulture), "--path", dataDirectory);
        return await StartOrDisposeAsync(server);
    }

    private static async Task<ServerProcess> StartOrDisposeAsync(ServerProcess server)
    {
        try
        {
            await server.StartAsync();
            return server;
        }
        catch
        {
            server.Dispose();
            throw;
        }
    }

    public async Task StartAsync()
    {
        var start = new ProcessStartInfo(_fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in _arguments)
        {
            start.ArgumentList.Add(argument);
        }

        _process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {_fileName}.");
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"{_fileName} exited with code {_process.ExitCode} before listening on port {Port}.");
            }

            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync("127.0.0.1", Port);
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(50);
            }
        }

        throw new TimeoutException($"{_fileName} did not listen on 127.0.0.1:{Port} within 30 s.");
    }

    public void Stop()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }

        _process?.Dispose();
        _process = null;
    }

    public void Dispose() => Stop();
}
