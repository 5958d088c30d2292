using System.Net;
using System.Text.Json;

namespace Polly.Distributed.CircuitBreaker.Sidecar;

/// <summary>
/// The HTTP API on 127.0.0.1, compatible with the reference extension's: <c>GET /health</c>, <c>GET /circuit/{id}</c>,
/// <c>POST /circuit/{id}/success</c> and <c>POST /circuit/{id}/failure</c>. A probe's report passes back the
/// <c>probeToken</c> its check returned, as <c>?probeToken=...</c>. Store errors never change a status code: the breaker
/// fails open and answers <c>allowed: true</c>.
/// </summary>
internal sealed class SidecarServer : IAsyncDisposable
{
    private readonly HttpListener _listener = new();
    private readonly SidecarCircuits _circuits;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _serving;

    public SidecarServer(int port, SidecarCircuits circuits)
    {
        _circuits = circuits;
        _listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        _listener.Start();
        Port = port;
        _serving = Task.Run(ServeAsync);
    }

    public int Port { get; }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        _listener.Close();
        await _serving.ConfigureAwait(false);
        _stopping.Dispose();
    }

    private async Task ServeAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            _ = Task.Run(() => AnswerAsync(context));
        }
    }

    private async Task AnswerAsync(HttpListenerContext context)
    {
        int status;
        byte[] body;
        try
        {
            (status, body) = await RouteAsync(context.Request.HttpMethod, context.Request.Url!.AbsolutePath, context.Request.QueryString["probeToken"]).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // The breaker turns store errors into fail-open answers; anything else still gets an answer, not a hung request.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            (status, body) = (500, Error($"{ex.GetType().Name}: {ex.Message}"));
        }

        try
        {
            context.Response.StatusCode = status;
            context.Response.ContentType = "application/json";
            context.Response.ContentLength64 = body.Length;
            await context.Response.OutputStream.WriteAsync(body, _stopping.Token).ConfigureAwait(false);
            context.Response.Close();
        }
        catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or OperationCanceledException)
        {
            // The client went away.
        }
    }

    internal async Task<(int Status, byte[] Body)> RouteAsync(string method, string path, string? probeToken)
    {
        if (path == "/health")
        {
            return method == "GET" ? (200, Json(w => w.WriteString("status", "ok"))) : MethodNotAllowed();
        }

        var segments = path.Split('/');
        if (segments.Length is < 3 or > 4 || segments[0].Length != 0 || segments[1] != "circuit")
        {
            return (404, Error("not found"));
        }

        var circuitId = Uri.UnescapeDataString(segments[2]);
        if (segments.Length == 3)
        {
            if (Refusal(method, "GET", circuitId) is { } refusedCheck)
            {
                return refusedCheck;
            }

            if (await _circuits.CheckAsync(circuitId, _stopping.Token).ConfigureAwait(false) is not { } check)
            {
                return TooManyCircuits();
            }

            return (200, Json(w =>
            {
                w.WriteBoolean("allowed", check.Allowed);
                w.WriteString("state", CircuitSnapshotSchema.FormatState(check.State));
                WriteOptional(w, "transition", check.Transition);
                WriteOptional(w, "probeToken", check.ProbeToken);
                WriteOptional(w, "openedBy", check.OpenedBy);
                WriteOptional(w, "openedReason", check.OpenedReason);
            }));
        }

        if (segments[3] is not ("success" or "failure"))
        {
            return (404, Error("not found"));
        }

        if (Refusal(method, "POST", circuitId) is { } refusedReport)
        {
            return refusedReport;
        }

        if (await _circuits.ReportAsync(circuitId, failed: segments[3] == "failure", probeToken, _stopping.Token).ConfigureAwait(false) is not { } report)
        {
            return TooManyCircuits();
        }

        return (200, Json(w =>
        {
            w.WriteString("state", CircuitSnapshotSchema.FormatState(report.State));
            WriteOptional(w, "transition", report.Transition);
            WriteOptional(w, "openedBy", report.OpenedBy);
            WriteOptional(w, "openedReason", report.OpenedReason);
        }));
    }

    // A route's request refused before the circuit is touched: wrong method or invalid id. No room for another circuit is
    // decided by the circuits themselves, in the same step that would add it.
    private static (int, byte[])? Refusal(string method, string expectedMethod, string circuitId) =>
        method != expectedMethod ? MethodNotAllowed()
        : !SidecarSettings.IsValidCircuitId(circuitId) ? InvalidId()
        : null;

    private static (int, byte[]) MethodNotAllowed() => (405, Error("method not allowed"));

    // A client that names ever new circuits must not make the sidecar hold a breaker for each; clients fail open on it.
    private (int, byte[]) TooManyCircuits() => (429, Error($"this sidecar already serves {_circuits.MaxCircuits} circuits"));

    private static (int, byte[]) InvalidId() => (400, Error("invalid circuit id: 1 to 256 characters of A-Z a-z 0-9 - _ . :"));

    private static byte[] Error(string message) => Json(w => w.WriteString("error", message));

    private static void WriteOptional(Utf8JsonWriter writer, string name, string? value)
    {
        if (value is not null)
        {
            writer.WriteString(name, value);
        }
    }

    private static byte[] Json(Action<Utf8JsonWriter> write)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            write(writer);
            writer.WriteEndObject();
        }

        return buffer.ToArray();
    }
}
