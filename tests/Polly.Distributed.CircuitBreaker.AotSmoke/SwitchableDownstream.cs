using System.Net;
using System.Net.Sockets;

namespace Polly.Distributed.CircuitBreaker.AotSmoke;

/// <summary>An HTTP server on 127.0.0.1 that answers every request with the status it is set to, and counts requests.</summary>
internal sealed class SwitchableDownstream : IDisposable
{
    private readonly HttpListener _listener = new();
    private int _requests;

    public SwitchableDownstream()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();

        Url = new Uri($"http://127.0.0.1:{port}/");
        _listener.Prefixes.Add(Url.ToString());
        _listener.Start();
        _ = Task.Run(ServeAsync);
    }

    public Uri Url { get; }

    public HttpStatusCode Status { get; set; } = HttpStatusCode.InternalServerError;

    public int Requests => Volatile.Read(ref _requests);

    public void Dispose() => _listener.Close();

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException)
            {
                return;
            }

            Interlocked.Increment(ref _requests);
            context.Response.StatusCode = (int)Status;
            context.Response.Close();
        }
    }
}
