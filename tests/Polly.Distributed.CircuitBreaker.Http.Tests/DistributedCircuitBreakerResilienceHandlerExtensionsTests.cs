using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Options;
using Polly.CircuitBreaker;
using Polly.Distributed.CircuitBreaker.TestKit;

namespace Polly.Distributed.CircuitBreaker.Http.Tests;

[Collection(nameof(ProcessEnvironmentCollection))]
public sealed class DistributedCircuitBreakerResilienceHandlerExtensionsTests : IDisposable
{
    private readonly LoopbackDownstream _sick = new() { Status = HttpStatusCode.InternalServerError };
    private readonly LoopbackDownstream _healthy = new();

    public void Dispose()
    {
        _sick.Dispose();
        _healthy.Dispose();
    }

    [Fact]
    public async Task AddResilienceHandler_DownstreamFails_OpensCircuitAndRejectsCallers()
    {
        using var services = BuildServices(pipeline => pipeline.AddResilienceHandler("breaker", (builder, context) =>
            builder.AddDistributedCircuitBreaker(context, o =>
            {
                o.CircuitId = "orders-fn";
                o.FailureThreshold = 3;
            })));
        var client = services.GetRequiredService<IHttpClientFactory>().CreateClient("downstream");

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.InternalServerError, (await client.GetAsync(_sick.Url)).StatusCode);
        }

        var rejection = await Assert.ThrowsAsync<BrokenCircuitException>(() => client.GetAsync(_sick.Url));

        Assert.True(rejection.RetryAfter > TimeSpan.Zero);
        Assert.Equal(3, _sick.Requests);
        var stored = await services.GetRequiredService<InMemoryCircuitStateStore>().ReadAsync("orders-fn", CancellationToken.None);
        Assert.Equal(StoredCircuitState.Open, stored.Snapshot.State);
        Assert.Equal(3, stored.Snapshot.FailureCount);
    }

    [Fact]
    public async Task AddResilienceHandler_NoCircuitIdAndNoFunctionName_UsesPipelineName()
    {
        var previous = Environment.GetEnvironmentVariable("AWS_LAMBDA_FUNCTION_NAME");
        Environment.SetEnvironmentVariable("AWS_LAMBDA_FUNCTION_NAME", null);
        try
        {
            using var services = BuildServices(pipeline => pipeline.AddResilienceHandler("breaker", (builder, context) =>
                builder.AddDistributedCircuitBreaker(context, o => o.FailureThreshold = 1)));
            var client = services.GetRequiredService<IHttpClientFactory>().CreateClient("downstream");

            await client.GetAsync(_sick.Url);

            var stored = await services.GetRequiredService<InMemoryCircuitStateStore>().ReadAsync("downstream-breaker", CancellationToken.None);
            Assert.Equal(StoredCircuitState.Open, stored.Snapshot.State);
        }
        finally
        {
            Environment.SetEnvironmentVariable("AWS_LAMBDA_FUNCTION_NAME", previous);
        }
    }

    [Fact]
    public async Task SelectPipelineByAuthority_OneHostFails_OtherHostStaysClosed()
    {
        using var services = BuildServices(pipeline => pipeline
            .AddResilienceHandler("breaker", (builder, context) => builder.AddDistributedCircuitBreaker(context, o =>
            {
                o.CircuitId = "orders-fn";
                o.FailureThreshold = 2;
            }))
            .SelectPipelineByAuthority());
        var client = services.GetRequiredService<IHttpClientFactory>().CreateClient("downstream");

        await client.GetAsync(_sick.Url);
        await client.GetAsync(_sick.Url);
        await Assert.ThrowsAsync<BrokenCircuitException>(() => client.GetAsync(_sick.Url));

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(_healthy.Url)).StatusCode);
        var store = services.GetRequiredService<InMemoryCircuitStateStore>();
        var sickId = $"orders-fn:127.0.0.1:{_sick.Url.Port}";
        Assert.Equal(StoredCircuitState.Open, (await store.ReadAsync(sickId, CancellationToken.None)).Snapshot.State);
        Assert.False((await store.ReadAsync($"orders-fn:127.0.0.1:{_healthy.Url.Port}", CancellationToken.None)).Exists);
    }

    [Fact]
    public async Task SelectPipelineByAuthority_StateProviderInOptions_ServesEveryHostsCircuit()
    {
        // One provider in the options of per-host pipelines used to break every request to a second host.
        var provider = new DistributedCircuitBreakerStateProvider();
        using var services = BuildServices(pipeline => pipeline
            .AddResilienceHandler("breaker", (builder, context) => builder.AddDistributedCircuitBreaker(context, o =>
            {
                o.CircuitId = "orders-fn";
                o.FailureThreshold = 1;
                o.StateProvider = provider;
            }))
            .SelectPipelineByAuthority());
        var client = services.GetRequiredService<IHttpClientFactory>().CreateClient("downstream");

        await client.GetAsync(_sick.Url);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(_healthy.Url)).StatusCode);

        Assert.Equal(CircuitState.Open, await provider.GetCircuitStateAsync($"orders-fn:127.0.0.1:{_sick.Url.Port}"));
        Assert.Equal(CircuitState.Closed, await provider.GetCircuitStateAsync($"orders-fn:127.0.0.1:{_healthy.Url.Port}"));
    }

    [Fact]
    public async Task ManualControl_CreatedWithCircuitIds_IsolatesBeforeTheFirstRequest()
    {
        // HttpClient pipelines are built on first use; an operator must be able to isolate before that.
        var store = new InMemoryCircuitStateStore();
        var control = new DistributedCircuitBreakerManualControl(store, ["orders-fn"]);
        using var services = BuildServices(pipeline => pipeline.AddResilienceHandler("breaker", (builder, context) =>
            builder.AddDistributedCircuitBreaker(context, o =>
            {
                o.CircuitId = "orders-fn";
                o.StateStore = store;
                o.ManualControl = control;
            })));
        var client = services.GetRequiredService<IHttpClientFactory>().CreateClient("downstream");

        await control.IsolateAsync();

        await Assert.ThrowsAsync<IsolatedCircuitException>(() => client.GetAsync(_healthy.Url));
        await control.CloseAsync();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(_healthy.Url)).StatusCode);
    }

    [Fact]
    public async Task AddResilienceHandler_AttemptTimeoutInsideBreaker_CountsAsFailure()
    {
        _healthy.Delay = TimeSpan.FromSeconds(2);
        using var services = BuildServices(pipeline => pipeline.AddResilienceHandler("breaker", (builder, context) => builder
            .AddTimeout(TimeSpan.FromSeconds(30))
            .AddDistributedCircuitBreaker(context, o =>
            {
                o.CircuitId = "slow";
                o.FailureThreshold = 1;
            })
            .AddTimeout(TimeSpan.FromMilliseconds(100))));
        var client = services.GetRequiredService<IHttpClientFactory>().CreateClient("downstream");

        await Assert.ThrowsAsync<Polly.Timeout.TimeoutRejectedException>(() => client.GetAsync(_healthy.Url));

        await Assert.ThrowsAsync<BrokenCircuitException>(() => client.GetAsync(_healthy.Url));
    }

    [Fact]
    public async Task AddDistributedCircuitBreakerOptions_BoundFromConfiguration_AppliesToPipeline()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["CircuitBreaker:CircuitId"] = "configured",
                ["CircuitBreaker:FailureThreshold"] = "1",
                ["CircuitBreaker:BreakDuration"] = "00:00:30",
                ["CircuitBreaker:MaxBreakDuration"] = "00:02:00",
            })
            .Build();
        using var services = BuildServices(
            pipeline => pipeline.AddResilienceHandler("breaker", (builder, context) => builder.AddDistributedCircuitBreaker(context)),
            s => s.AddDistributedCircuitBreakerOptions(configuration.GetSection("CircuitBreaker")));
        var client = services.GetRequiredService<IHttpClientFactory>().CreateClient("downstream");

        await client.GetAsync(_sick.Url);

        var rejection = await Assert.ThrowsAsync<BrokenCircuitException>(() => client.GetAsync(_sick.Url));
        Assert.True(rejection.RetryAfter > TimeSpan.FromSeconds(20));
        Assert.True((await services.GetRequiredService<InMemoryCircuitStateStore>().ReadAsync("configured", CancellationToken.None)).Exists);
    }

    [Fact]
    public void AddDistributedCircuitBreakerOptions_MaxBreakBelowBreak_FailsStartUpValidation()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["CircuitBreaker:BreakDuration"] = "00:00:30",
                ["CircuitBreaker:MaxBreakDuration"] = "00:00:10",
            })
            .Build();
        using var services = new ServiceCollection()
            .AddDistributedCircuitBreakerOptions(configuration.GetSection("CircuitBreaker"))
            .BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IStartupValidator>().Validate());

        Assert.Contains("MaxBreakDuration", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AddDistributedCircuitBreakerOptions_QuorumWithoutAtomic_FailsStartUpValidationNamingBoth()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["CircuitBreaker:MinimumFailingEnvironments"] = "3" })
            .Build();
        using var services = new ServiceCollection()
            .AddDistributedCircuitBreakerOptions(configuration.GetSection("CircuitBreaker"))
            .BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IStartupValidator>().Validate());

        Assert.Contains("MinimumFailingEnvironments", error.Message, StringComparison.Ordinal);
        Assert.Contains("Atomic", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AddDistributedCircuitBreakerOptions_InvalidValue_FailsStartUpValidation()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["CircuitBreaker:FailureThreshold"] = "0" })
            .Build();
        using var services = new ServiceCollection()
            .AddDistributedCircuitBreakerOptions(configuration.GetSection("CircuitBreaker"))
            .BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IStartupValidator>().Validate());

        Assert.Contains("FailureThreshold", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AddDistributedCircuitBreakerOptions_ValidValuesWithoutStore_PassStartUpValidation()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["CircuitBreaker:FailureThreshold"] = "3" })
            .Build();
        using var services = new ServiceCollection()
            .AddDistributedCircuitBreakerOptions(configuration.GetSection("CircuitBreaker"))
            .BuildServiceProvider();

        services.GetRequiredService<IStartupValidator>().Validate();

        Assert.Equal(3, services.GetRequiredService<IOptions<HttpDistributedCircuitBreakerStrategyOptions>>().Value.FailureThreshold);
    }

    [Fact]
    public void AddResilienceHandler_NoStoreRegistered_ThrowsNamingTheFix()
    {
        using var services = new ServiceCollection()
            .AddHttpClient("downstream")
            .AddResilienceHandler("breaker", (builder, context) => builder.AddDistributedCircuitBreaker(context))
            .Services
            .BuildServiceProvider();

        var error = Assert.Throws<InvalidOperationException>(() => services.GetRequiredService<IHttpClientFactory>().CreateClient("downstream"));

        Assert.Contains("AddDynamoDbCircuitStateStore", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("fn", "", "fn")]
    [InlineData("fn", "https://api.example.com", "fn:api.example.com")]
    [InlineData("fn", "http://127.0.0.1:8080", "fn:127.0.0.1:8080")]
    [InlineData("fn", "not a uri", "fn:not_a_uri")]
    public void CircuitIdFor_InstanceName_AppendsSanitisedAuthority(string baseId, string instanceName, string expected)
    {
        Assert.Equal(expected, DistributedCircuitBreakerResilienceHandlerExtensions.CircuitIdFor(baseId, instanceName));
    }

    [Fact]
    public void CircuitIdFor_InvalidBaseId_IsKeptSoValidationRejectsIt()
    {
        Assert.Equal("my function:api.example.com", DistributedCircuitBreakerResilienceHandlerExtensions.CircuitIdFor("my function", "https://api.example.com"));
    }

    [Fact]
    public void CircuitIdFor_AuthorityTooLong_FitsAndKeepsHostsApart()
    {
        var baseId = new string('f', 200);

        var first = DistributedCircuitBreakerResilienceHandlerExtensions.CircuitIdFor(baseId, "https://" + new string('a', 80) + ".example.com");
        var second = DistributedCircuitBreakerResilienceHandlerExtensions.CircuitIdFor(baseId, "https://" + new string('a', 80) + ".example.org");

        Assert.Equal(256, first.Length);
        Assert.Equal(256, second.Length);
        Assert.NotEqual(first, second);
        Assert.StartsWith(baseId + ":", first, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ShouldHandle_Default_TreatsTransientHttpOutcomesAsFailures()
    {
        var options = new HttpDistributedCircuitBreakerStrategyOptions();
        var context = ResilienceContextPool.Shared.Get();

        async Task<bool> Handles(Outcome<HttpResponseMessage> outcome) => await options.ShouldHandle(new CircuitBreakerPredicateArguments<HttpResponseMessage>(context, outcome));

        Assert.True(await Handles(Outcome.FromResult(new HttpResponseMessage(HttpStatusCode.ServiceUnavailable))));
        Assert.True(await Handles(Outcome.FromResult(new HttpResponseMessage(HttpStatusCode.TooManyRequests))));
        Assert.True(await Handles(Outcome.FromResult(new HttpResponseMessage(HttpStatusCode.RequestTimeout))));
        Assert.True(await Handles(Outcome.FromException<HttpResponseMessage>(new HttpRequestException())));
        Assert.True(await Handles(Outcome.FromException<HttpResponseMessage>(new Polly.Timeout.TimeoutRejectedException())));
        Assert.False(await Handles(Outcome.FromResult(new HttpResponseMessage(HttpStatusCode.NotFound))));
        Assert.False(await Handles(Outcome.FromResult(new HttpResponseMessage(HttpStatusCode.OK))));
    }

    private static ServiceProvider BuildServices(Action<IHttpClientBuilder> configurePipeline, Action<IServiceCollection>? configureServices = null)
    {
        var services = new ServiceCollection().AddInMemoryCircuitStateStore();
        configureServices?.Invoke(services);
        configurePipeline(services.AddHttpClient("downstream"));
        return services.BuildServiceProvider();
    }
}
