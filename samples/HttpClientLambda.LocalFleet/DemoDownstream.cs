using System.Net;
using System.Net.Sockets;
using System.Text;

namespace HttpClientLambda.LocalFleet;

/// <summary>
/// The dependency of the demo, on 127.0.0.1: <c>GET /</c> answers 200 while healthy and 503 while dead;
/// <c>POST /toggle</c> flips it. It records when each <c>GET /</c> arrived.
/// </summary>
internal sealed class DemoDownstream : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly List<TimeSpan> _calls = [];
    private readonly TimeProvider _time;
    private readonly long _started;
    private readonly Task _serving;
    private volatile bool _healthy = true;

    public DemoDownstream(TimeProvider time)
    {
        _time = time;
        _started = time.GetTimestamp();
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        Url = new Uri($"http://127.0.0.1:{port}/");
        _listener.Prefixes.Add(Url.ToString());
        _listener.Start();
        _serving = Task.Run(ServeAsync);
    }

    public Uri Url { get; }

    public bool Healthy => _healthy;

    /// <summary>Returns when each call arrived, measured from <paramref name="origin"/> (a timestamp of the same clock).</summary>
    public IReadOnlyList<TimeSpan> CallsSince(long origin)
    {
        var offset = _time.GetElapsedTime(_started, origin);
        lock (_calls)
        {
            return [.. _calls.Select(c => c - offset).Where(c => c >= TimeSpan.Zero)];
        }
    }

    public void Dispose()
    {
        _listener.Close();
        _serving.Wait(TimeSpan.FromSeconds(5));
    }

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            var toggle = context.Request.HttpMethod == "POST" && context.Request.Url?.AbsolutePath == "/toggle";
            if (toggle)
            {
                _healthy = !_healthy;
            }
            else
            {
                lock (_calls)
                {
                    _calls.Add(_time.GetElapsedTime(_started));
                }
            }

            context.Response.StatusCode = toggle || _healthy ? 200 : 503;
            var body = Encoding.UTF8.GetBytes(toggle ? $"{{\"healthy\":{(_healthy ? "true" : "false")}}}" : "{}");
            context.Response.ContentType = "application/json";
            try
            {
                await context.Response.OutputStream.WriteAsync(body);
                context.Response.Close();
            }
            catch (HttpListenerException)
            {
                // The caller timed out and left.
            }
        }
    }
}
