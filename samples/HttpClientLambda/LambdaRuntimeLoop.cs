using System.Net.Http.Headers;
using System.Text.Json;

namespace HttpClientLambda;

/// <summary>
/// The Lambda Runtime API loop of a custom runtime (<c>provided.al2023</c>), for the NativeAOT build of the function:
/// takes the next event, runs the handler, and posts its response or its error. Written against the documented HTTP API,
/// so the function needs no Amazon.Lambda package.
/// </summary>
public static class LambdaRuntimeLoop
{
    private const string RequestIdHeader = "Lambda-Runtime-Aws-Request-Id";

    /// <summary>
    /// Serves invocations until <paramref name="cancellationToken"/> is cancelled (Lambda freezes or ends the process), which
    /// always ends it with an <see cref="OperationCanceledException"/>, whether the loop was waiting for an event or between two.
    /// </summary>
    /// <param name="runtimeApi">The base address of the Runtime API, <c>http://{AWS_LAMBDA_RUNTIME_API}/2018-06-01/</c>.</param>
    /// <param name="handler">The function handler.</param>
    /// <param name="http">The client the loop talks to the Runtime API with (no timeout: <c>next</c> waits for an event).</param>
    /// <param name="cancellationToken">Ends the loop.</param>
    /// <returns>A task that ends cancelled when the loop ends.</returns>
    public static async Task RunAsync(Uri runtimeApi, Func<Stream, Task<Stream>> handler, HttpClient http, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(runtimeApi);
        ArgumentNullException.ThrowIfNull(handler);
        ArgumentNullException.ThrowIfNull(http);

        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var next = await http.GetAsync(new Uri(runtimeApi, "runtime/invocation/next"), HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            next.EnsureSuccessStatusCode();
            var requestId = next.Headers.GetValues(RequestIdHeader).Single();
            await using var input = await next.Content.ReadAsStreamAsync(cancellationToken);

            HttpContent answer;
            string path;
            try
            {
                answer = new StreamContent(await handler(input));
                path = $"runtime/invocation/{requestId}/response";
            }
#pragma warning disable CA1031 // Any failure of the handler is the invocation's error, reported to Lambda; the loop goes on.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                answer = ErrorContent(ex);
                path = $"runtime/invocation/{requestId}/error";
            }

            using (answer)
            {
                using var posted = await http.PostAsync(new Uri(runtimeApi, path), answer, cancellationToken);
                posted.EnsureSuccessStatusCode();
            }
        }
    }

    /// <summary>Reports a failure of the function's initialisation, after which Lambda ends the environment.</summary>
    /// <param name="runtimeApi">The base address of the Runtime API.</param>
    /// <param name="error">What went wrong.</param>
    /// <param name="http">The client.</param>
    /// <returns>A task that completes when the error is posted.</returns>
    public static async Task ReportInitErrorAsync(Uri runtimeApi, Exception error, HttpClient http)
    {
        ArgumentNullException.ThrowIfNull(http);

        using var content = ErrorContent(error);
        using var posted = await http.PostAsync(new Uri(runtimeApi, "runtime/init/error"), content);
    }

    private static ByteArrayContent ErrorContent(Exception error)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("errorMessage", error.Message);
            json.WriteString("errorType", error.GetType().Name);
            json.WriteEndObject();
        }

        var content = new ByteArrayContent(buffer.ToArray());
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        content.Headers.Add("Lambda-Runtime-Function-Error-Type", "Unhandled");
        return content;
    }
}
