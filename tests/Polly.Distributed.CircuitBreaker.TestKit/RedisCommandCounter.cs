using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Polly.Distributed.CircuitBreaker.TestKit;

/// <summary>
/// A TCP proxy on 127.0.0.1 in front of a redis-server that counts the commands clients send, by name: round trips as the
/// network sees them (commands a Lua script runs inside the server are not round trips and are not counted).
/// </summary>
public sealed class RedisCommandCounter : IAsyncDisposable
{
    private readonly int _serverPort;
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<string, long> _commands = new(StringComparer.OrdinalIgnoreCase);

    public RedisCommandCounter(int serverPort)
    {
        _serverPort = serverPort;
        _listener.Start();
        _ = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public long Count(string command) => _commands.TryGetValue(command, out var count) ? count : 0;

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        _listener.Stop();
        _stopping.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stopping.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            _ = RelayAsync(client);
        }
    }

    private async Task RelayAsync(TcpClient client)
    {
        using (client)
        using (var server = new TcpClient())
        {
            try
            {
                await server.ConnectAsync(IPAddress.Loopback, _serverPort, _stopping.Token);
                var toServer = CountAndForwardAsync(client.GetStream(), server.GetStream());
                var toClient = server.GetStream().CopyToAsync(client.GetStream(), _stopping.Token);
                await Task.WhenAny(toServer, toClient);
            }
            catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
            {
            }
        }
    }

    // Client requests are RESP arrays of bulk strings: *<n>\r\n then n times $<length>\r\n<bytes>\r\n; the first is the name.
    private async Task CountAndForwardAsync(NetworkStream client, NetworkStream server)
    {
        var pending = new List<byte>();
        var buffer = new byte[16 * 1024];
        int read;
        while ((read = await client.ReadAsync(buffer, _stopping.Token)) > 0)
        {
            await server.WriteAsync(buffer.AsMemory(0, read), _stopping.Token);
            pending.AddRange(buffer.AsSpan(0, read));
            int consumed;
            while ((consumed = TryCountOne(pending)) > 0)
            {
                pending.RemoveRange(0, consumed);
            }
        }
    }

    private int TryCountOne(List<byte> pending)
    {
        var position = 0;
        if (ReadLine(pending, ref position) is not { } header || header[0] != '*')
        {
            return 0;
        }

        string? name = null;
        for (var i = 0; i < int.Parse(header.AsSpan(1), System.Globalization.CultureInfo.InvariantCulture); i++)
        {
            if (ReadLine(pending, ref position) is not { } length)
            {
                return 0;
            }

            var size = int.Parse(length.AsSpan(1), System.Globalization.CultureInfo.InvariantCulture);
            if (position + size + 2 > pending.Count)
            {
                return 0;
            }

            name ??= Encoding.ASCII.GetString(pending.GetRange(position, size).ToArray());
            position += size + 2;
        }

        _commands.AddOrUpdate(name ?? "", 1, (_, count) => count + 1);
        return position;
    }

    private static string? ReadLine(List<byte> pending, ref int position)
    {
        for (var i = position; i + 1 < pending.Count; i++)
        {
            if (pending[i] == '\r' && pending[i + 1] == '\n')
            {
                var line = Encoding.ASCII.GetString(pending.GetRange(position, i - position).ToArray());
                position = i + 2;
                return line;
            }
        }

        return null;
    }
}
