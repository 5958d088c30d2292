using System.Net;

namespace Polly.Distributed.CircuitBreaker.TestKit;

/// <summary>
/// A real HTTP server on 127.0.0.1 that answers 200, or a chosen failure status, and counts the requests it receives.
/// </summary>
public sealed class LoopbackDownstream : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Task _serving;
    private readonly TaskCompletionSource _firstRequest = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _requests;

    public LoopbackDownstream()
    {
        var port = IntegrationEnvironment.FreeLoopbackPort();
        Url = new Uri($"http://127.0.0.1:{port}/");
        _listener.Prefixes.Add(Url.ToString());
        _listener.Start();
        _serving = Task.Run(ServeAsync);
    }

    public Uri Url { get; }

    /// <summary>Gets or sets the status every request gets.</summary>
    public HttpStatusCode Status { get; set; } = HttpStatusCode.OK;

    /// <summary>Gets or sets the JSON body of every answer, if any.</summary>
    public string? Body { get; set; }

    /// <summary>Gets the method and path of the last request.</summary>
    public string? LastRequest { get; private set; }

    /// <summary>Gets or sets how long each answer takes.</summary>
    public TimeSpan Delay { get; set; }

    public int Requests => Volatile.Read(ref _requests);

    /// <summary>Gets a task that completes when the first request has arrived.</summary>
    public Task FirstRequest => _firstRequest.Task;

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

            Interlocked.Increment(ref _requests);
            LastRequest = $"{context.Request.HttpMethod} {context.Request.Url?.AbsolutePath}";
            _firstRequest.TrySetResult();
            _ = Task.Run(async () =>
            {
                try
                {
                    if (Delay > TimeSpan.Zero)
                    {
                        await Task.Delay(Delay);
                    }

                    context.Response.StatusCode = (int)Status;
                    if (Body is { } body)
                    {
                        context.Response.ContentType = "application/json";
                        await context.Response.OutputStream.WriteAsync(System.Text.Encoding.UTF8.GetBytes(body));
                    }

                    context.Response.Close();
                }
                catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
                {
                    // The client gave up (an attempt timeout) or the server is closing.
                }
            });
        }
    }
}
