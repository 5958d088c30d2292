using System.Text;
using System.Text.Json;

namespace Polly.Distributed.CircuitBreaker.Sidecar;

/// <summary>
/// The Lambda Extensions API, as an external extension uses it: register for INVOKE and SHUTDOWN, then take events until
/// SHUTDOWN. Serving requests happens meanwhile on the sidecar's own listener.
/// </summary>
internal sealed class LambdaExtensionClient(HttpClient http, string runtimeApi, string extensionName)
{
    private const string IdentifierHeader = "Lambda-Extension-Identifier";

    /// <summary>Registers, then waits for events until SHUTDOWN arrives (or <paramref name="cancellationToken"/> is cancelled).</summary>
    public async Task RunUntilShutdownAsync(CancellationToken cancellationToken)
    {
        using var register = new HttpRequestMessage(HttpMethod.Post, $"http://{runtimeApi}/2020-01-01/extension/register")
        {
            Content = new StringContent("""{"events":["INVOKE","SHUTDOWN"]}""", Encoding.UTF8, "application/json"),
        };
        register.Headers.Add("Lambda-Extension-Name", extensionName);
        using var registered = await http.SendAsync(register, cancellationToken).ConfigureAwait(false);
        registered.EnsureSuccessStatusCode();
        var identifier = registered.Headers.GetValues(IdentifierHeader).Single();

        while (true)
        {
            using var next = new HttpRequestMessage(HttpMethod.Get, $"http://{runtimeApi}/2020-01-01/extension/event/next");
            next.Headers.Add(IdentifierHeader, identifier);
            using var answer = await http.SendAsync(next, cancellationToken).ConfigureAwait(false);
            answer.EnsureSuccessStatusCode();
            using var body = JsonDocument.Parse(await answer.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false));
            if (body.RootElement.TryGetProperty("eventType", out var type) && type.GetString() == "SHUTDOWN")
            {
                return;
            }
        }
    }
}
