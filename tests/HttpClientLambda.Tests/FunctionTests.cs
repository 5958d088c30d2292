using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Polly.Distributed.CircuitBreaker.TestKit;

namespace HttpClientLambda.Tests;

public sealed class FunctionTests : IDisposable
{
    private readonly LoopbackDownstream _downstream = new();

    public void Dispose() => _downstream.Dispose();

    [Fact]
    public async Task FunctionHandler_DownstreamFails_RejectsAfterThresholdAndStatusShowsOpenCircuit()
    {
        var function = new Function(BuildServices());
        _downstream.Status = HttpStatusCode.ServiceUnavailable;

        var first = await InvokeAsync(function, "/");
        var second = await InvokeAsync(function, "/");
        var third = await InvokeAsync(function, "/");
        var status = await InvokeAsync(function, "/status");

        Assert.Equal(502, first.StatusCode);
        Assert.Equal("failed", Body<CallResult>(first).Outcome);
        Assert.Equal(502, second.StatusCode);
        Assert.Equal(503, third.StatusCode);
        Assert.Equal("rejected", Body<CallResult>(third).Outcome);
        var circuit = Body<CircuitStatus>(status);
        Assert.Equal($"test-fn:127.0.0.1:{_downstream.Url.Port}", circuit.CircuitId);
        Assert.Equal("OPEN", circuit.State);
    }

    [Fact]
    public async Task FunctionHandler_CircuitOpenAfterAGoodAnswer_FallbackServesTheLastGoodAnswer()
    {
        var function = new Function(BuildServices());
        Assert.Equal(200, (await InvokeAsync(function, "/")).StatusCode);
        _downstream.Status = HttpStatusCode.ServiceUnavailable;
        await InvokeAsync(function, "/");
        await InvokeAsync(function, "/");

        var rejected = await InvokeAsync(function, "/");

        Assert.Equal(200, rejected.StatusCode);
        Assert.Equal("rejected", Body<CallResult>(rejected).Outcome);
        Assert.Contains("last good response", Body<CallResult>(rejected).Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task FunctionHandler_HealthyDownstream_ReturnsOk()
    {
        var function = new Function(BuildServices());

        var response = await InvokeAsync(function, "/");

        Assert.Equal(200, response.StatusCode);
        Assert.Equal(new CallResult("ok", 200, null, null), Body<CallResult>(response));
    }

    [Fact]
    public async Task FunctionHandler_Toggle_PostsToDownstreamAndReturnsItsHealth()
    {
        _downstream.Body = "{\"healthy\":false}";

        var response = await InvokeAsync(new Function(BuildServices()), "/toggle");

        Assert.Equal(200, response.StatusCode);
        Assert.Equal(new ToggleResult(false), Body<ToggleResult>(response));
        Assert.Equal("POST /toggle", _downstream.LastRequest);
    }

    [Fact]
    public async Task FunctionHandler_UnknownRoute_Returns404()
    {
        Assert.Equal(404, (await InvokeAsync(new Function(BuildServices()), "/nope")).StatusCode);
    }

    private IServiceProvider BuildServices() => FunctionServices.Build(new ConfigurationBuilder()
        .AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["DOWNSTREAM_URL"] = _downstream.Url.ToString(),
            ["CIRCUITBREAKER_STORE"] = "memory",
            ["CircuitBreaker:CircuitId"] = "test-fn",
            ["CircuitBreaker:FailureThreshold"] = "4", // Each failing invocation makes two calls: the attempt and one retry.
        })
        .Build());

    private static async Task<ApiGatewayProxyResponse> InvokeAsync(Function function, string path)
    {
        var request = JsonSerializer.Serialize(new ApiGatewayProxyRequest { HttpMethod = "GET", Path = path }, FunctionJsonContext.Default.ApiGatewayProxyRequest);
        await using var output = await function.FunctionHandler(new MemoryStream(Encoding.UTF8.GetBytes(request)));
        return (await JsonSerializer.DeserializeAsync(output, FunctionJsonContext.Default.ApiGatewayProxyResponse))!;
    }

    private static T Body<T>(ApiGatewayProxyResponse response) =>
        (T)JsonSerializer.Deserialize(response.Body, typeof(T), FunctionJsonContext.Default)!;
}
