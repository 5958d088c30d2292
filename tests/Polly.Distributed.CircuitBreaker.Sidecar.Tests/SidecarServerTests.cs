using System.Net;
using System.Text.Json;
using Amazon.DynamoDBv2;
using Amazon.Runtime;
using Microsoft.Extensions.Time.Testing;
using Polly.CircuitBreaker;
using Polly.Distributed.CircuitBreaker.DynamoDb;
using Polly.Distributed.CircuitBreaker.TestKit;

namespace Polly.Distributed.CircuitBreaker.Sidecar.Tests;

/// <summary>The sidecar over real HTTP, with dynalite as its store.</summary>
public sealed class SidecarServerTests : IAsyncLifetime
{
    private const string Table = "sidecar";
    private readonly FakeTimeProvider _time = new();
    private readonly HttpClient _http = new();
    private AmazonDynamoDBClient? _client;
    private DynamoDbCircuitStateStore? _store;
    private SidecarServer? _server;
    private readonly string _circuit = "sidecar-" + Guid.NewGuid().ToString("N");

    public async ValueTask InitializeAsync()
    {
        _client = Client(IntegrationEnvironment.Require(IntegrationEnvironment.DynamoDbUrlVariable));
        _store = new DynamoDbCircuitStateStore(_client, new DynamoDbCircuitStateStoreOptions { TableName = Table });
        await _store.CreateTableIfNotExistsAsync();
        _server = Start(_store, CircuitConsistency.Atomic);
    }

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        _client?.Dispose();
        _http.Dispose();
    }

    [Fact]
    public async Task Health_Get_AnswersOkAsJson()
    {
        using var response = await _http.GetAsync(Url("/health"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("""{"status":"ok"}""", await response.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("GET", "/", 404)]
    [InlineData("GET", "/circuits/a", 404)]
    [InlineData("GET", "/circuit/a/b/c", 404)]
    [InlineData("POST", "/circuit/a/other", 404)]
    [InlineData("POST", "/health", 405)]
    [InlineData("POST", "/circuit/a", 405)]
    [InlineData("GET", "/circuit/a/success", 405)]
    [InlineData("DELETE", "/circuit/a/failure", 405)]
    [InlineData("GET", "/circuit/bad%20id", 400)]
    [InlineData("POST", "/circuit/bad%2Fid/failure", 400)]
    public async Task Request_OtherRoutesAndBadIds_AnswerTheirStatus(string method, string path, int status)
    {
        using var response = await _http.SendAsync(new HttpRequestMessage(new HttpMethod(method), Url(path)));

        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.True(Json(await response.Content.ReadAsStringAsync()).TryGetProperty("error", out _));
    }

    [Fact]
    public async Task Check_MoreCircuitsThanTheBound_Answers429AndKeepsServingKnownOnes()
    {
        var template = new DistributedCircuitBreakerStrategyOptions { CircuitId = "template" };
        await using var server = new SidecarServer(IntegrationEnvironment.FreeLoopbackPort(), new SidecarCircuits(template, _store!, _time, maxCircuits: 2));
        var url = $"http://127.0.0.1:{server.Port}/circuit/";

        using var first = await _http.GetAsync(url + _circuit + "-1");
        using var second = await _http.PostAsync(url + _circuit + "-2/failure", content: null);
        using var third = await _http.GetAsync(url + _circuit + "-3");
        using var again = await _http.GetAsync(url + _circuit + "-1");

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal((HttpStatusCode)429, third.StatusCode);
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
    }

    [Fact]
    public async Task Check_IdOver256Characters_Answers400()
    {
        using var response = await _http.GetAsync(Url("/circuit/" + new string('a', 257)));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task Failures_ReachThreshold_OpenTheCircuitAndChecksAreRefused()
    {
        Assert.True((await GetAsync($"/circuit/{_circuit}")).GetProperty("allowed").GetBoolean());

        JsonElement last = default;
        for (var i = 0; i < 3; i++)
        {
            last = await PostAsync($"/circuit/{_circuit}/failure");
        }

        var check = await GetAsync($"/circuit/{_circuit}");
        Assert.Equal("OPEN", last.GetProperty("state").GetString());
        Assert.Equal("CLOSED->OPEN", last.GetProperty("transition").GetString());
        Assert.Equal(DistributedCircuitBreakerEnvironment.Id, last.GetProperty("openedBy").GetString());
        Assert.Equal("ReportedFailureException", last.GetProperty("openedReason").GetString());
        Assert.False(check.GetProperty("allowed").GetBoolean());
        Assert.Equal("OPEN", check.GetProperty("state").GetString());
    }

    [Fact]
    public async Task HalfOpen_Atomic_OneCheckGetsTheProbeAndItsReportClosesTheCircuit()
    {
        for (var i = 0; i < 3; i++)
        {
            await PostAsync($"/circuit/{_circuit}/failure");
        }

        _time.Advance(TimeSpan.FromSeconds(2));
        var probe = await GetAsync($"/circuit/{_circuit}");
        var second = await GetAsync($"/circuit/{_circuit}");
        var report = await PostAsync($"/circuit/{_circuit}/success?probeToken={probe.GetProperty("probeToken").GetString()}");

        Assert.True(probe.GetProperty("allowed").GetBoolean());
        Assert.Equal("OPEN->HALF-OPEN", probe.GetProperty("transition").GetString());
        Assert.False(second.GetProperty("allowed").GetBoolean());
        Assert.Equal("CLOSED", report.GetProperty("state").GetString());
        Assert.Equal("HALF-OPEN->CLOSED", report.GetProperty("transition").GetString());
    }

    [Fact]
    public async Task HalfOpen_Atomic_FailedProbeReopensTheCircuitFromHalfOpen()
    {
        for (var i = 0; i < 3; i++)
        {
            await PostAsync($"/circuit/{_circuit}/failure");
        }

        _time.Advance(TimeSpan.FromSeconds(2));
        var probe = await GetAsync($"/circuit/{_circuit}");
        var report = await PostAsync($"/circuit/{_circuit}/failure?probeToken={probe.GetProperty("probeToken").GetString()}");

        Assert.Equal("OPEN", report.GetProperty("state").GetString());
        Assert.Equal("HALF-OPEN->OPEN", report.GetProperty("transition").GetString());
    }

    [Fact]
    public async Task Check_StoreUnreachable_AllowsWithStatus200()
    {
        using var unreachable = Client($"http://127.0.0.1:{IntegrationEnvironment.FreeLoopbackPort()}");
        await using var server = Start(new DynamoDbCircuitStateStore(unreachable, new DynamoDbCircuitStateStoreOptions { TableName = Table }), CircuitConsistency.Atomic);

        using var check = await _http.GetAsync($"http://127.0.0.1:{server.Port}/circuit/{_circuit}");
        using var report = await _http.PostAsync($"http://127.0.0.1:{server.Port}/circuit/{_circuit}/failure", content: null);

        Assert.Equal(HttpStatusCode.OK, check.StatusCode);
        Assert.True(Json(await check.Content.ReadAsStringAsync()).GetProperty("allowed").GetBoolean());
        Assert.Equal(HttpStatusCode.OK, report.StatusCode);
    }

    [Fact]
    public async Task OpenedThroughSidecar_DotNetLibraryOnSameTable_SeesItOpen()
    {
        for (var i = 0; i < 3; i++)
        {
            await PostAsync($"/circuit/{_circuit}/failure");
        }

        var pipeline = Library();

        await Assert.ThrowsAsync<BrokenCircuitException>(async () => await pipeline.ExecuteAsync(_ => default));
    }

    [Fact]
    public async Task OpenedByDotNetLibrary_Sidecar_RefusesChecks()
    {
        var pipeline = Library();
        for (var i = 0; i < 3; i++)
        {
            await Assert.ThrowsAsync<HttpRequestException>(async () => await pipeline.ExecuteAsync(_ => throw new HttpRequestException("down")));
        }

        var check = await GetAsync($"/circuit/{_circuit}");

        Assert.False(check.GetProperty("allowed").GetBoolean());
        Assert.Equal("OPEN", check.GetProperty("state").GetString());
    }

    private ResiliencePipeline Library() => new ResiliencePipelineBuilder { TimeProvider = _time }
        .AddDistributedCircuitBreaker(new DistributedCircuitBreakerStrategyOptions
        {
            CircuitId = _circuit,
            StateStore = _store,
            FailureThreshold = 3,
            Consistency = CircuitConsistency.Atomic,
        })
        .Build();

    private SidecarServer Start(ICircuitStateStore store, CircuitConsistency consistency)
    {
        var template = new DistributedCircuitBreakerStrategyOptions
        {
            CircuitId = "template",
            FailureThreshold = 3,
            SuccessThreshold = 1,
            BreakDuration = TimeSpan.FromSeconds(1),
            Consistency = consistency,
            StoreTimeout = TimeSpan.FromSeconds(2),
        };
        return new SidecarServer(IntegrationEnvironment.FreeLoopbackPort(), new SidecarCircuits(template, store, _time));
    }

    private static AmazonDynamoDBClient Client(string url) => new(
        new BasicAWSCredentials("local", "local"),
        new AmazonDynamoDBConfig { ServiceURL = url, AuthenticationRegion = "us-east-1", MaxErrorRetry = 0, Timeout = TimeSpan.FromSeconds(5) });

    private Uri Url(string path) => new($"http://127.0.0.1:{_server!.Port}{path}");

    private async Task<JsonElement> GetAsync(string path)
    {
        using var response = await _http.GetAsync(Url(path));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return Json(await response.Content.ReadAsStringAsync());
    }

    private async Task<JsonElement> PostAsync(string path)
    {
        using var response = await _http.PostAsync(Url(path), content: null);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return Json(await response.Content.ReadAsStringAsync());
    }

    private static JsonElement Json(string text) => JsonDocument.Parse(text).RootElement.Clone();
}
