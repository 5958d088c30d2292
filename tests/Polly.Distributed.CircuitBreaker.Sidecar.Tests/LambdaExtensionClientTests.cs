using System.Net;
using System.Text;
using Polly.Distributed.CircuitBreaker.TestKit;

namespace Polly.Distributed.CircuitBreaker.Sidecar.Tests;

/// <summary>The extension loop against a local stand-in for the Lambda Extensions API.</summary>
public sealed class LambdaExtensionClientTests
{
    [Fact]
    public async Task RunUntilShutdownAsync_InvokeThenShutdown_RegistersAndReturnsOnShutdown()
    {
        var port = IntegrationEnvironment.FreeLoopbackPort();
        using var api = new HttpListener();
        api.Prefixes.Add($"http://127.0.0.1:{port}/");
        api.Start();
        var requests = new List<string>();
        var events = new Queue<string>(["""{"eventType":"INVOKE","requestId":"r1"}""", """{"eventType":"SHUTDOWN","shutdownReason":"spindown"}"""]);
        var serving = Task.Run(async () =>
        {
            while (events.Count > 0)
            {
                var context = await api.GetContextAsync();
                using var reader = new StreamReader(context.Request.InputStream);
                var body = await reader.ReadToEndAsync();
                requests.Add($"{context.Request.HttpMethod} {context.Request.Url!.AbsolutePath} name={context.Request.Headers["Lambda-Extension-Name"]} id={context.Request.Headers["Lambda-Extension-Identifier"]} {body}");
                var answer = context.Request.HttpMethod == "POST" ? "{}" : events.Dequeue();
                if (context.Request.HttpMethod == "POST")
                {
                    context.Response.AddHeader("Lambda-Extension-Identifier", "ext-1");
                }

                await context.Response.OutputStream.WriteAsync(Encoding.UTF8.GetBytes(answer));
                context.Response.Close();
            }
        });
        using var http = new HttpClient();

        await new LambdaExtensionClient(http, $"127.0.0.1:{port}", "polly-circuitbreaker").RunUntilShutdownAsync(CancellationToken.None);
        await serving;

        Assert.Equal(
            [
                """POST /2020-01-01/extension/register name=polly-circuitbreaker id= {"events":["INVOKE","SHUTDOWN"]}""",
                "GET /2020-01-01/extension/event/next name= id=ext-1 ",
                "GET /2020-01-01/extension/event/next name= id=ext-1 ",
            ],
            requests);
    }
}
