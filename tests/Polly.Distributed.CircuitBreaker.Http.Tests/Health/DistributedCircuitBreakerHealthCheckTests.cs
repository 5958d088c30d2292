using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Time.Testing;
using Polly.CircuitBreaker;

namespace Polly.Distributed.CircuitBreaker.Http.Tests.Health;

public sealed class DistributedCircuitBreakerHealthCheckTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly StallingStore _store = new();
    private readonly DistributedCircuitBreakerStateProvider _provider = new();

    [Fact]
    public async Task CheckHealthAsync_NoBreakerAttached_Healthy()
    {
        var entry = await CheckAsync();

        Assert.Equal(HealthStatus.Healthy, entry.Status);
        Assert.Empty(entry.Data);
    }

    [Fact]
    public async Task CheckHealthAsync_AllCircuitsClosed_HealthyWithEachCircuitsState()
    {
        await CallAsync(Build("orders"));
        Build("payments");

        var entry = await CheckAsync();

        Assert.Equal(HealthStatus.Healthy, entry.Status);
        Assert.Equal(["orders", "payments"], entry.Data.Keys.Order(StringComparer.Ordinal));
        var orders = Circuit(entry, "orders");
        Assert.Equal("Closed", orders["state"]);
        Assert.Equal(true, orders["storeReachable"]);
        Assert.Equal("Closed", orders["localState"]);
        Assert.False(orders.ContainsKey("nextAttempt"));
    }

    [Fact]
    public async Task CheckHealthAsync_CircuitOpen_DegradedWithNextAttemptAndReachableStore()
    {
        await OpenAsync(Build("orders"));
        await CallAsync(Build("payments"));

        var entry = await CheckAsync();

        Assert.Equal(HealthStatus.Degraded, entry.Status);
        var orders = Circuit(entry, "orders");
        Assert.Equal("Open", orders["state"]);
        Assert.Equal("2026-01-01T00:00:10.000Z", orders["nextAttempt"]);
        Assert.Equal(true, orders["storeReachable"]);
        Assert.Equal("Closed", Circuit(entry, "payments")["state"]);
        Assert.Contains("orders Open until 2026-01-01T00:00:10.000Z", entry.Description, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CheckHealthAsync_OpenCircuitWithUnhealthyWhenOpen_Unhealthy()
    {
        await OpenAsync(Build("orders"));

        var entry = await CheckAsync(o => o.UnhealthyWhenOpen = true);

        Assert.Equal(HealthStatus.Unhealthy, entry.Status);
    }

    [Fact]
    public async Task CheckHealthAsync_CircuitIsolated_ReportsIsolatedUntilTheEndOfTime()
    {
        var control = new DistributedCircuitBreakerManualControl();
        Build("orders", o => o.ManualControl = control);
        await control.IsolateAsync();

        var entry = await CheckAsync();

        Assert.Equal(HealthStatus.Degraded, entry.Status);
        Assert.Equal("Isolated", Circuit(entry, "orders")["state"]);
        Assert.Equal("9999-12-31T23:59:59.999Z", Circuit(entry, "orders")["nextAttempt"]);
    }

    [Fact]
    public async Task CheckHealthAsync_CircuitHalfOpen_DegradedEvenWhenOpenMeansUnhealthy()
    {
        Build("orders");
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        await _store.Inner.WriteAsync("orders", new CircuitSnapshot { State = StoredCircuitState.HalfOpen, NextAttemptUnixMs = now, StateTimestampUnixMs = now }, CancellationToken.None);

        var entry = await CheckAsync(o => o.UnhealthyWhenOpen = true);

        Assert.Equal(HealthStatus.Degraded, entry.Status);
        Assert.Equal("HalfOpen", Circuit(entry, "orders")["state"]);
    }

    [Fact]
    public async Task CheckHealthAsync_StoreNeverAnswers_DegradedWithinTheStoreTimeoutFromLastKnownState()
    {
        await OpenAsync(Build("orders", o => o.StoreTimeout = TimeSpan.FromMilliseconds(200)));
        _store.Reads = StallingStore.ReadBehaviour.HangIgnoringToken;

        var watch = Stopwatch.StartNew();
        var entry = await CheckAsync(o => o.UnhealthyWhenOpen = true, clock: TimeProvider.System);

        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(3), $"took {watch.Elapsed}");
        Assert.Equal(HealthStatus.Degraded, entry.Status);
        var orders = Circuit(entry, "orders");
        Assert.Equal(false, orders["storeReachable"]);
        Assert.Equal("timeout", orders["storeError"]);
        Assert.Equal("Open", orders["state"]);
    }

    [Fact]
    public async Task CheckHealthAsync_StoreBlocksCallingThread_StillEndsWithinTheCheckTimeout()
    {
        Build("orders");
        _store.Reads = StallingStore.ReadBehaviour.BlockCallingThread;

        var watch = Stopwatch.StartNew();
        var entry = await CheckAsync(o => o.StoreTimeout = TimeSpan.FromMilliseconds(200), clock: TimeProvider.System);

        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(3), $"took {watch.Elapsed}");
        Assert.Equal(HealthStatus.Degraded, entry.Status);
        Assert.Equal("timeout", Circuit(entry, "orders")["storeError"]);
    }

    [Fact]
    public async Task CheckHealthAsync_StoreFailsForACircuitNeverSeen_DegradedWithUnknownStateAndTheFailureKind()
    {
        Build("orders");
        _store.Reads = StallingStore.ReadBehaviour.Fail;

        var entry = await CheckAsync();

        Assert.Equal(HealthStatus.Degraded, entry.Status);
        Assert.Null(entry.Exception);
        var orders = Circuit(entry, "orders");
        Assert.Equal("Unknown", orders["state"]);
        Assert.Equal(false, orders["storeReachable"]);
        Assert.Equal("unreachable", orders["storeError"]);
    }

    [Fact]
    public async Task CheckHealthAsync_PipelineDisposed_NoLongerReportsItsCircuit()
    {
        var registry = new Polly.Registry.ResiliencePipelineRegistry<string>();
        registry.GetOrAddPipeline("orders", builder => builder.AddDistributedCircuitBreaker(Options("orders")));
        Assert.Single((await CheckAsync()).Data);

        await registry.DisposeAsync();

        Assert.Empty((await CheckAsync()).Data);
    }

    private static IReadOnlyDictionary<string, object> Circuit(HealthReportEntry entry, string circuitId) =>
        Assert.IsAssignableFrom<IReadOnlyDictionary<string, object>>(entry.Data[circuitId]);

    private static async Task CallAsync(ResiliencePipeline pipeline) => await pipeline.ExecuteAsync(static _ => ValueTask.CompletedTask);

    private static async Task OpenAsync(ResiliencePipeline pipeline)
    {
        await Assert.ThrowsAsync<HttpRequestException>(async () => await pipeline.ExecuteAsync(_ => throw new HttpRequestException("down")));
        await Assert.ThrowsAsync<BrokenCircuitException>(async () => await pipeline.ExecuteAsync(static _ => ValueTask.CompletedTask));
    }

    private DistributedCircuitBreakerStrategyOptions Options(string circuitId) => new()
    {
        CircuitId = circuitId,
        StateStore = _store,
        StateProvider = _provider,
        FailureThreshold = 1,
        BreakDuration = TimeSpan.FromSeconds(10),
    };

    private ResiliencePipeline Build(string circuitId, Action<DistributedCircuitBreakerStrategyOptions>? configure = null)
    {
        var options = Options(circuitId);
        configure?.Invoke(options);
        return new ResiliencePipelineBuilder { TimeProvider = _time }.AddDistributedCircuitBreaker(options).Build();
    }

    private async Task<HealthReportEntry> CheckAsync(Action<DistributedCircuitBreakerHealthCheckOptions>? configure = null, TimeProvider? clock = null)
    {
        var services = new ServiceCollection()
            .AddLogging()
            .AddSingleton(clock ?? _time);
        services.AddHealthChecks().AddDistributedCircuitBreakerCheck(configure: o =>
        {
            o.StateProvider = _provider;
            configure?.Invoke(o);
        });
        await using var provider = services.BuildServiceProvider();

        var report = await provider.GetRequiredService<HealthCheckService>().CheckHealthAsync();

        return Assert.Single(report.Entries, e => e.Key == "distributed-circuit-breaker").Value;
    }
}
