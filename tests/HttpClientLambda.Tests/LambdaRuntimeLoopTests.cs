using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Polly.Distributed.CircuitBreaker.TestKit;

namespace HttpClientLambda.Tests;

/// <summary>The custom-runtime loop against a local stand-in for the Lambda Runtime API.</summary>
public sealed class LambdaRuntimeLoopTests : IDisposable
{
    private readonly FakeRuntimeApi _api = new();

    public void Dispose() => _api.Dispose();

    [Fact]
    public async Task RunAsync_TwoEvents_PostsEachResponseUnderItsRequestId()
    {
        _api.Events.Enqueue(("req-1", "first"));
        _api.Events.Enqueue(("req-2", "second"));
        using var http = new HttpClient();
        using var stop = new CancellationTokenSource();
        _api.OnPost = posted => { if (posted.Count == 2) { stop.Cancel(); } };

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => LambdaRuntimeLoop.RunAsync(_api.BaseAddress, UpperCaseAsync, http, stop.Token));

        Assert.Equal(
            [("/2018-06-01/runtime/invocation/req-1/response", "FIRST"), ("/2018-06-01/runtime/invocation/req-2/response", "SECOND")],
            _api.Posted.Select(p => (p.Path, p.Body)));
    }

    [Fact]
    public async Task RunAsync_HandlerThrows_PostsErrorAndServesNextEvent()
    {
        _api.Events.Enqueue(("req-1", "boom"));
        _api.Events.Enqueue(("req-2", "fine"));
        using var http = new HttpClient();
        using var stop = new CancellationTokenSource();
        _api.OnPost = posted => { if (posted.Count == 2) { stop.Cancel(); } };

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => LambdaRuntimeLoop.RunAsync(
            _api.BaseAddress,
            async input => await ReadAsync(input) == "boom" ? throw new InvalidOperationException("handler failed") : await UpperCaseAsync(new MemoryStream("fine"u8.ToArray())),
            http,
            stop.Token));

        var error = _api.Posted[0];
        Assert.Equal("/2018-06-01/runtime/invocation/req-1/error", error.Path);
        Assert.Contains("\"errorMessage\":\"handler failed\"", error.Body, StringComparison.Ordinal);
        Assert.Contains("\"errorType\":\"InvalidOperationException\"", error.Body, StringComparison.Ordinal);
        Assert.Equal("Unhandled", error.ErrorTypeHeader);
        Assert.Equal(("/2018-06-01/runtime/invocation/req-2/response", "FINE"), (_api.Posted[1].Path, _api.Posted[1].Body));
    }

    [Fact]
    public async Task RunAsync_CancelledBetweenTwoEvents_EndsWithOperationCanceled()
    {
        _api.Events.Enqueue(("req-1", "only"));
        // A client that finishes each request it started, so the cancellation is seen between two events only.
        using var http = new HttpClient(new FinishesStartedRequests());
        using var stop = new CancellationTokenSource();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => LambdaRuntimeLoop.RunAsync(
            _api.BaseAddress,
            async input =>
            {
                await stop.CancelAsync();
                return await UpperCaseAsync(input);
            },
            http,
            stop.Token));

        Assert.Equal([("/2018-06-01/runtime/invocation/req-1/response", "ONLY")], _api.Posted.Select(p => (p.Path, p.Body)));
    }

    private static async Task<Stream> UpperCaseAsync(Stream input) => new MemoryStream(Encoding.UTF8.GetBytes((await ReadAsync(input)).ToUpperInvariant()));

    private static async Task<string> ReadAsync(Stream input)
    {
        using var reader = new StreamReader(input);
        return await reader.ReadToEndAsync();
    }

    private sealed class FinishesStartedRequests() : DelegatingHandler(new HttpClientHandler())
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            base.SendAsync(request, CancellationToken.None);
    }

    private sealed record PostedAnswer(string Path, string Body, string? ErrorTypeHeader);

    /// <summary>Serves queued events on <c>next</c> and records what the loop posts back.</summary>
    private sealed class FakeRuntimeApi : IDisposable
    {
        private readonly HttpListener _listener = new();

        public FakeRuntimeApi()
        {
            var port = IntegrationEnvironment.FreeLoopbackPort();
            _listener.Prefixes.Add($"http://127.0.0.1:{port}/");
            _listener.Start();
            BaseAddress = new Uri($"http://127.0.0.1:{port}/2018-06-01/");
            _ = Task.Run(ServeAsync);
        }

        public Uri BaseAddress { get; }

        public ConcurrentQueue<(string RequestId, string Body)> Events { get; } = new();

        public List<PostedAnswer> Posted { get; } = [];

        public Action<List<PostedAnswer>>? OnPost { get; set; }

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

                if (context.Request.HttpMethod == "GET" && Events.TryDequeue(out var next))
                {
                    context.Response.AddHeader("Lambda-Runtime-Aws-Request-Id", next.RequestId);
                    await context.Response.OutputStream.WriteAsync(Encoding.UTF8.GetBytes(next.Body));
                    context.Response.Close();
                }
                else if (context.Request.HttpMethod == "POST")
                {
                    using var reader = new StreamReader(context.Request.InputStream);
                    Posted.Add(new PostedAnswer(context.Request.Url!.AbsolutePath, await reader.ReadToEndAsync(), context.Request.Headers["Lambda-Runtime-Function-Error-Type"]));
                    context.Response.StatusCode = 202;
                    context.Response.Close();
                    OnPost?.Invoke(Posted);
                }

                // A "next" with no event queued is left waiting, as Lambda's is until an event arrives.
            }
        }
    }
}
