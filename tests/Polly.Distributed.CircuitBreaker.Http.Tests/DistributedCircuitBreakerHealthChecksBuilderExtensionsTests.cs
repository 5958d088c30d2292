using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Http.Resilience;
using Polly.CircuitBreaker;
using Polly.Distributed.CircuitBreaker.TestKit;

namespace Polly.Distributed.CircuitBreaker.Http.Tests;

public sealed class DistributedCircuitBreakerHealthChecksBuilderExtensionsTests : IDisposable
{
    private readonly LoopbackDownstream _sick = new() { Status = HttpStatusCode.InternalServerError };
    private readonly LoopbackDownstream _healthy = new();

    public void Dispose()
    {
        _sick.Dispose();
        _healthy.Dispose();
    }

    [Fact]
    public async Task AddDistributedCircuitBreakerCheck_OneLine_ReportsEveryHostsCircuitOfHttpClientPipelines()
    {
        var services = new ServiceCollection().AddLogging().AddInMemoryCircuitStateStore();
        services.AddHealthChecks().AddDistributedCircuitBreakerCheck();
        services.AddHttpClient("downstream")
            .AddResilienceHandler("breaker", (builder, context) => builder.AddDistributedCircuitBreaker(context, o =>
            {
                o.CircuitId = "orders-fn";
                o.FailureThreshold = 1;
            }))
            .SelectPipelineByAuthority();
        await using var provider = services.BuildServiceProvider();
        var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("downstream");

        await client.GetAsync(_sick.Url);
        await Assert.ThrowsAsync<BrokenCircuitException>(() => client.GetAsync(_sick.Url));
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(_healthy.Url)).StatusCode);
        var report = await provider.GetRequiredService<HealthCheckService>().CheckHealthAsync();

        var entry = report.Entries["distributed-circuit-breaker"];
        Assert.Equal(HealthStatus.Degraded, entry.Status);
        Assert.Equal("Open", State(entry, $"orders-fn:127.0.0.1:{_sick.Url.Port}"));
        Assert.Equal("Closed", State(entry, $"orders-fn:127.0.0.1:{_healthy.Url.Port}"));
    }

    [Fact]
    public async Task AddDistributedCircuitBreakerCheck_NameAndTags_RegisteredAsGiven()
    {
        var services = new ServiceCollection().AddLogging();
        services.AddHealthChecks().AddDistributedCircuitBreakerCheck("breakers", tags: ["ready"]);
        await using var provider = services.BuildServiceProvider();

        var report = await provider.GetRequiredService<HealthCheckService>().CheckHealthAsync(r => r.Tags.Contains("ready"));

        Assert.Equal(HealthStatus.Healthy, Assert.Single(report.Entries, e => e.Key == "breakers").Value.Status);
    }

    [Fact]
    public void AddDistributedCircuitBreakerCheck_StoreTimeoutNotPositive_Throws()
    {
        var builder = new ServiceCollection().AddHealthChecks();

        Assert.Throws<ArgumentOutOfRangeException>(() => builder.AddDistributedCircuitBreakerCheck(configure: o => o.StoreTimeout = TimeSpan.Zero));
    }

    private static object State(HealthReportEntry entry, string circuitId) =>
        Assert.IsAssignableFrom<IReadOnlyDictionary<string, object>>(entry.Data[circuitId])["state"];
}
