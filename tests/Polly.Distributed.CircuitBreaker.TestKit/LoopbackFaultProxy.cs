using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;

namespace Polly.Distributed.CircuitBreaker.TestKit;

/// <summary>
/// A TCP proxy on 127.0.0.1 in front of a local server, that injects network faults between a store client and its server.
/// </summary>
public sealed class LoopbackFaultProxy : IAsyncDisposable
{
    private readonly int _targetPort;
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _acceptLoop;
    private string? _dropMarker;
    private int _droppedResponses;

    public LoopbackFaultProxy(int targetPort)
    {
        _targetPort = targetPort;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        _acceptLoop = AcceptAsync();
    }

    /// <summary>The fault applied to connections.</summary>
    public enum ProxyFault
    {
        /// <summary>Forward everything.</summary>
        None,

        /// <summary>Accept connections and requests, never answer.</summary>
        BlackHole,

        /// <summary>Reset every connection as soon as a request arrives.</summary>
        Reset,

        /// <summary>Pass every request to the server, and drop every answer (closing the connection).</summary>
        DropResponses,
    }

    /// <summary>Gets the port the proxy listens on.</summary>
    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Gets or sets the fault applied to requests from now on.</summary>
    public ProxyFault Fault { get; set; }

    /// <summary>Gets or sets the delay added before each answer is passed back.</summary>
    public TimeSpan Latency { get; set; }

    /// <summary>Gets how many answers were dropped after their request reached the server.</summary>
    public int DroppedResponses => Volatile.Read(ref _droppedResponses);

    /// <summary>
    /// Lets the next request whose bytes contain <paramref name="marker"/> reach the server, then drops the server's answer
    /// and closes the client's connection, as a network that loses a response does.
    /// </summary>
    public void DropNextResponseTo(string marker) => Volatile.Write(ref _dropMarker, marker);

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        _listener.Stop();
        await _acceptLoop.ContinueWith(_ => { }, TaskScheduler.Default);
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
            catch (Exception) when (_stopping.IsCancellationRequested)
            {
                return;
            }

            _ = Task.Run(() => RelayAsync(client));
        }
    }

    private async Task RelayAsync(TcpClient client)
    {
        using var _ = client;
        using var server = new TcpClient();
        using var connection = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
        try
        {
            if (Fault == ProxyFault.BlackHole)
            {
                // Accept, read, never answer: a server that hangs.
                var sink = new byte[4096];
                while (await client.GetStream().ReadAsync(sink, connection.Token) > 0)
                {
                }

                return;
            }

            await server.ConnectAsync(IPAddress.Loopback, _targetPort, connection.Token);
            var dropArmed = new StrongBox<bool>();
            var upstream = PumpRequestsAsync(client.GetStream(), server.GetStream(), client, dropArmed, connection.Token);
            var downstream = PumpAnswersAsync(server.GetStream(), client.GetStream(), dropArmed, connection.Token);
            await Task.WhenAny(upstream, downstream);
        }
        catch (Exception)
        {
            // A connection the fault or the client ended.
        }
        finally
        {
            await connection.CancelAsync();
        }
    }

    private async Task PumpRequestsAsync(NetworkStream from, NetworkStream to, TcpClient client, StrongBox<bool> dropArmed, CancellationToken cancellationToken)
    {
        var buffer = new byte[64 * 1024];
        while (true)
        {
            var read = await from.ReadAsync(buffer, cancellationToken);
            if (read == 0)
            {
                return;
            }

            switch (Fault)
            {
                case ProxyFault.BlackHole:
                    continue;
                case ProxyFault.Reset:
                    client.Client.LingerState = new LingerOption(true, 0);
                    client.Close();
                    return;
            }

            if (Volatile.Read(ref _dropMarker) is { } marker
                && Encoding.UTF8.GetString(buffer, 0, read).Contains(marker, StringComparison.Ordinal)
                && Interlocked.CompareExchange(ref _dropMarker, null, marker) == marker)
            {
                dropArmed.Value = true;
            }

            await to.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
        }
    }

    private async Task PumpAnswersAsync(NetworkStream from, NetworkStream to, StrongBox<bool> dropArmed, CancellationToken cancellationToken)
    {
        var buffer = new byte[64 * 1024];
        while (true)
        {
            var read = await from.ReadAsync(buffer, cancellationToken);
            if (read == 0)
            {
                return;
            }

            if (dropArmed.Value || Fault == ProxyFault.DropResponses)
            {
                Interlocked.Increment(ref _droppedResponses);
                return;
            }

            if (Latency > TimeSpan.Zero)
            {
                await Task.Delay(Latency, cancellationToken);
            }

            await to.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
        }
    }
}
