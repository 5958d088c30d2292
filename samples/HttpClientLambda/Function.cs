using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Polly.CircuitBreaker;
using Polly.Distributed.CircuitBreaker;

namespace HttpClientLambda;

/// <summary>
/// The Lambda function. Handler: <c>HttpClientLambda::HttpClientLambda.Function::FunctionHandler</c>. It takes and returns
/// API Gateway proxy JSON as streams, so it needs no Amazon.Lambda package.
/// Routes: <c>/</c> calls the downstream through the resilient HttpClient, <c>/toggle</c> flips the demo downstream,
/// <c>/status</c> returns the shared circuit state.
/// </summary>
public sealed class Function
{
    // One service provider per execution environment: created in the init phase (the runtime constructs the handler
    // there), reused by every warm invocation.
    private static readonly Lazy<ServiceProvider> SharedServices = new(() =>
        FunctionServices.WarmUp(FunctionServices.Build(new ConfigurationBuilder().AddEnvironmentVariables().Build())));

    private readonly IServiceProvider _services;

    /// <summary>Initializes a new instance of the <see cref="Function"/> class, as the Lambda runtime does.</summary>
    public Function()
        : this(SharedServices.Value)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="Function"/> class with given services.</summary>
    /// <param name="services">The services built by <see cref="FunctionServices.Build"/>.</param>
    public Function(IServiceProvider services) => _services = services;

    /// <summary>Handles one API Gateway proxy event.</summary>
    /// <param name="input">The event JSON.</param>
    /// <returns>The response JSON.</returns>
    public async Task<Stream> FunctionHandler(Stream input)
    {
        var request = await JsonSerializer.DeserializeAsync(input, FunctionJsonContext.Default.ApiGatewayProxyRequest)
            ?? new ApiGatewayProxyRequest();

        var response = request.Path switch
        {
            "/" or "" or null => await CallDownstreamAsync(),
            "/toggle" => await ToggleAsync(),
            "/status" => await StatusAsync(),
            _ => new ApiGatewayProxyResponse { StatusCode = 404, Body = "{\"error\":\"unknown route\"}" },
        };

        var output = new MemoryStream();
        await JsonSerializer.SerializeAsync(output, response, FunctionJsonContext.Default.ApiGatewayProxyResponse);
        output.Position = 0;
        return output;
    }

    private async Task<ApiGatewayProxyResponse> CallDownstreamAsync()
    {
        var client = _services.GetRequiredService<IHttpClientFactory>().CreateClient(FunctionServices.DownstreamClient);
        CallResult result;
        int status;
        try
        {
            using var answer = await client.GetAsync(new Uri("/", UriKind.Relative));
            var ok = answer.IsSuccessStatusCode;
            if (answer.Headers.Contains(LastGoodResponse.ServedFromHeader))
            {
                result = new CallResult("rejected", null, null, "circuit open; answered with the last good response");
                status = 200;
            }
            else
            {
                if (ok)
                {
                    _services.GetRequiredService<LastGoodResponse>().Remember(await answer.Content.ReadAsStringAsync());
                }

                result = new CallResult(ok ? "ok" : "failed", (int)answer.StatusCode, null, null);
                status = ok ? 200 : 502;
            }
        }
        catch (BrokenCircuitException open)
        {
            result = new CallResult("rejected", null, (long?)open.RetryAfter?.TotalMilliseconds, "circuit open");
            status = 503;
        }
        catch (Exception ex) when (ex is HttpRequestException or Polly.Timeout.TimeoutRejectedException)
        {
            result = new CallResult("failed", null, null, ex.Message);
            status = 502;
        }

        return Json(status, result, FunctionJsonContext.Default.CallResult);
    }

    private async Task<ApiGatewayProxyResponse> ToggleAsync()
    {
        var client = _services.GetRequiredService<IHttpClientFactory>().CreateClient("control");
        using var answer = await client.PostAsync(new Uri("/toggle", UriKind.Relative), content: null);
        var healthy = await answer.Content.ReadFromJsonAsync(FunctionJsonContext.Default.ToggleResult);
        return Json(200, healthy!, FunctionJsonContext.Default.ToggleResult);
    }

    private async Task<ApiGatewayProxyResponse> StatusAsync()
    {
        var configuration = _services.GetRequiredService<IConfiguration>();
        var options = _services.GetRequiredService<IOptionsMonitor<HttpDistributedCircuitBreakerStrategyOptions>>().CurrentValue;
        var circuitId = Polly.DistributedCircuitBreakerResilienceHandlerExtensions.GetCircuitId(
            options, FunctionServices.DownstreamClient, FunctionServices.DownstreamPipeline, new Uri(configuration["DOWNSTREAM_URL"]!));
        var entry = await _services.GetRequiredService<ICircuitStateStore>().ReadAsync(circuitId, CancellationToken.None);
        var snapshot = entry.Snapshot;
        var status = new CircuitStatus(
            circuitId,
            CircuitSnapshotSchema.FormatState(snapshot.State),
            snapshot.FailureCount,
            snapshot.SuccessCount,
            snapshot.NextAttemptUnixMs,
            snapshot.ConsecutiveOpens);
        return Json(200, status, FunctionJsonContext.Default.CircuitStatus);
    }

    private static ApiGatewayProxyResponse Json<T>(int status, T body, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type) =>
        new() { StatusCode = status, Body = JsonSerializer.Serialize(body, type) };
}
