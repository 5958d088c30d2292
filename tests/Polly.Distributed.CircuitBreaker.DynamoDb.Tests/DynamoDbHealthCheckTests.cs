using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Polly.CircuitBreaker;
using Polly.Distributed.CircuitBreaker.TestKit;

namespace Polly.Distributed.CircuitBreaker.DynamoDb.Tests;

/// <summary>The health check against a real DynamoDB-compatible server: what it reads, and a server that stops answering.</summary>
public sealed class DynamoDbHealthCheckTests
{
    private const string Table = "health";

    [Fact]
    public async Task CheckHealthAsync_CircuitOpenInDynamoDb_DegradedWithNextAttemptAndReachableStore()
    {
        var store = await DynamoDbServer.CreateStoreAsync(Table);
        await using var services = BuildServices(store);
        var circuitId = "health-" + Guid.NewGuid().ToString("N");
        var pipeline = new ResiliencePipelineBuilder()
            .AddDistributedCircuitBreaker(services, new DistributedCircuitBreakerStrategyOptions { CircuitId = circuitId, FailureThreshold = 1, BreakDuration = TimeSpan.FromMinutes(5), MaxBreakDuration = TimeSpan.FromMinutes(5) })
            .Build();
        await Assert.ThrowsAsync<HttpRequestException>(async () => await pipeline.ExecuteAsync(_ => throw new HttpRequestException("down")));
        await Assert.ThrowsAsync<BrokenCircuitException>(async () => await pipeline.ExecuteAsync(static _ => ValueTask.CompletedTask));

        var entry = await CheckAsync(services);

        Assert.Equal(HealthStatus.Degraded, entry.Status);
        var circuit = Circuit(entry, circuitId);
        Assert.Equal("Open", circuit["state"]);
        Assert.Equal(true, circuit["storeReachable"]);
        var nextAttempt = DateTimeOffset.Parse((string)circuit["nextAttempt"], CultureInfo.InvariantCulture);
        Assert.InRange(nextAttempt - DateTimeOffset.UtcNow, TimeSpan.FromMinutes(4), TimeSpan.FromMinutes(5));
    }

    [Fact]
    public async Task CheckHealthAsync_DynamoDbStopsAnswering_DegradedWithinTheStoreTimeout()
    {
        await DynamoDbServer.CreateStoreAsync(Table);
        await using var proxy = new LoopbackFaultProxy(new Uri(DynamoDbServer.Url).Port);
        var store = new DynamoDbCircuitStateStore(DynamoDbServer.CreateClient($"http://127.0.0.1:{proxy.Port}"), new DynamoDbCircuitStateStoreOptions { TableName = Table });
        await using var services = BuildServices(store);
        var circuitId = "health-" + Guid.NewGuid().ToString("N");
        var pipeline = new ResiliencePipelineBuilder()
            .AddDistributedCircuitBreaker(services, new DistributedCircuitBreakerStrategyOptions { CircuitId = circuitId, StoreTimeout = TimeSpan.FromMilliseconds(500) })
            .Build();
        await pipeline.ExecuteAsync(static _ => ValueTask.CompletedTask);
        Assert.Equal(HealthStatus.Healthy, (await CheckAsync(services)).Status);

        proxy.Fault = LoopbackFaultProxy.ProxyFault.BlackHole;
        var watch = Stopwatch.StartNew();
        var entry = await CheckAsync(services);

        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(3), $"took {watch.Elapsed}");
        Assert.Equal(HealthStatus.Degraded, entry.Status);
        var circuit = Circuit(entry, circuitId);
        Assert.Equal(false, circuit["storeReachable"]);
        Assert.Equal("timeout", circuit["storeError"]);
        Assert.Equal("Closed", circuit["state"]);
    }

    private static ServiceProvider BuildServices(ICircuitStateStore store)
    {
        var services = new ServiceCollection().AddLogging().AddSingleton(store);
        services.AddHealthChecks().AddDistributedCircuitBreakerCheck();
        return services.BuildServiceProvider();
    }

    private static async Task<HealthReportEntry> CheckAsync(IServiceProvider services) =>
        (await services.GetRequiredService<HealthCheckService>().CheckHealthAsync()).Entries["distributed-circuit-breaker"];

    private static IReadOnlyDictionary<string, object> Circuit(HealthReportEntry entry, string circuitId) =>
        Assert.IsAssignableFrom<IReadOnlyDictionary<string, object>>(entry.Data[circuitId]);
}
