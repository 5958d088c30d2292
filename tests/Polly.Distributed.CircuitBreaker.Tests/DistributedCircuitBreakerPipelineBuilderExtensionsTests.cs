using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.DependencyInjection;
using Polly.Retry;
using Polly.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Polly.Testing;
using Polly.Timeout;

namespace Polly.Distributed.CircuitBreaker.Tests;

[Collection(nameof(ProcessEnvironmentCollection))]
public class DistributedCircuitBreakerPipelineBuilderExtensionsTests
{
    public static TheoryData<string, Action<DistributedCircuitBreakerStrategyOptions>> InvalidOptions => new()
    {
        { "FailureThreshold", o => o.FailureThreshold = 0 },
        { "SuccessThreshold", o => o.SuccessThreshold = -1 },
        { "BreakDuration", o => o.BreakDuration = TimeSpan.Zero },
        { "MaxBreakDuration", o => o.MaxBreakDuration = TimeSpan.FromSeconds(5) },
        { "FailureWindow", o => o.FailureWindow = TimeSpan.FromSeconds(-1) },
        { "CacheTtl", o => o.CacheTtl = TimeSpan.FromMilliseconds(-1) },
        { "StoreTimeout", o => o.StoreTimeout = TimeSpan.Zero },
        { "ProbeLeaseDuration", o => o.ProbeLeaseDuration = TimeSpan.Zero },
        { "Consistency", o => o.Consistency = (CircuitConsistency)7 },
        { "StateStore", o => o.StateStore = null },
        { "ShouldHandle", o => o.ShouldHandle = null! },
        { "CircuitId", o => o.CircuitId = null },
        { "MinimumFailingEnvironments", o => o.MinimumFailingEnvironments = 0 },
        { "MinimumFailingEnvironments", o => o.MinimumFailingEnvironments = 2 },
    };

    [Theory]
    [MemberData(nameof(InvalidOptions))]
    public void AddDistributedCircuitBreaker_InvalidOption_ThrowsValidationExceptionNamingProperty(string property, Action<DistributedCircuitBreakerStrategyOptions> spoil)
    {
        var options = ValidOptions();
        spoil(options);

        var exception = Assert.Throws<ValidationException>(() => new ResiliencePipelineBuilder().AddDistributedCircuitBreaker(options));

        Assert.Contains(property, exception.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("", "is empty")]
    [InlineData("orders api", "the character ' ' (U+0020) at position 6")]
    [InlineData("orders/api", "the character '/'")]
    [InlineData("ordérs", "the character 'é'")]
    public void AddDistributedCircuitBreaker_BadCircuitId_NamesTheProblem(string circuitId, string problem)
    {
        var options = ValidOptions();
        options.CircuitId = circuitId;

        var exception = Assert.Throws<ValidationException>(() => new ResiliencePipelineBuilder().AddDistributedCircuitBreaker(options));

        Assert.Contains(problem, exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AddDistributedCircuitBreaker_CircuitIdTooLong_NamesTheLength()
    {
        var options = ValidOptions();
        options.CircuitId = new string('a', 257);

        var exception = Assert.Throws<ValidationException>(() => new ResiliencePipelineBuilder().AddDistributedCircuitBreaker(options));

        Assert.Contains("is 257 characters long; at most 256", exception.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("a")]
    [InlineData("orders-api_v2.prod:eu-west-1")]
    public void AddDistributedCircuitBreaker_ValidCircuitId_Builds(string circuitId)
    {
        var options = ValidOptions();
        options.CircuitId = circuitId;

        Assert.NotNull(new ResiliencePipelineBuilder().AddDistributedCircuitBreaker(options).Build());
    }

    [Fact]
    public void Options_Defaults_MatchTheContract()
    {
        var options = new DistributedCircuitBreakerStrategyOptions<string>();

        Assert.Equal("DistributedCircuitBreaker", options.Name);
        Assert.Equal(5, options.FailureThreshold);
        Assert.Equal(2, options.SuccessThreshold);
        Assert.Equal(TimeSpan.FromSeconds(10), options.BreakDuration);
        Assert.Equal(TimeSpan.FromSeconds(60), options.MaxBreakDuration);
        Assert.Equal(TimeSpan.FromSeconds(60), options.FailureWindow);
        Assert.Equal(TimeSpan.Zero, options.CacheTtl);
        Assert.True(options.StoreTimeout < TimeSpan.FromSeconds(1));
        Assert.Equal(CircuitConsistency.LastWriterWins, options.Consistency);
    }

    [Fact]
    public void Options_LambdaFunctionNameSet_IsTheDefaultCircuitId()
    {
        var previous = Environment.GetEnvironmentVariable("AWS_LAMBDA_FUNCTION_NAME");
        Environment.SetEnvironmentVariable("AWS_LAMBDA_FUNCTION_NAME", "orders-function");
        try
        {
            Assert.Equal("orders-function", new DistributedCircuitBreakerStrategyOptions().CircuitId);
        }
        finally
        {
            Environment.SetEnvironmentVariable("AWS_LAMBDA_FUNCTION_NAME", previous);
        }
    }

    [Fact]
    public void GetPipelineDescriptor_WithTimeoutAndRetry_ShowsStrategyAndOptions()
    {
        var options = ValidOptions();

        var pipeline = new ResiliencePipelineBuilder()
            .AddTimeout(TimeSpan.FromSeconds(10))
            .AddRetry(new RetryStrategyOptions())
            .AddDistributedCircuitBreaker(options)
            .AddTimeout(TimeSpan.FromSeconds(1))
            .Build();

        var strategies = pipeline.GetPipelineDescriptor().Strategies;
        Assert.Equal(4, strategies.Count);
        Assert.IsType<TimeoutStrategyOptions>(strategies[0].Options);
        Assert.IsType<RetryStrategyOptions>(strategies[1].Options);
        Assert.Same(options, strategies[2].Options);
        Assert.Contains("DistributedCircuitBreaker", strategies[2].StrategyInstance.GetType().Name, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AddDistributedCircuitBreaker_WithServiceProvider_TakesStoreFromServices()
    {
        using var services = new ServiceCollection().AddInMemoryCircuitStateStore().BuildServiceProvider();
        var options = new DistributedCircuitBreakerStrategyOptions<int> { CircuitId = "from-di", FailureThreshold = 1 };

        var pipeline = new ResiliencePipelineBuilder<int>().AddDistributedCircuitBreaker(services, options).Build();
        await Assert.ThrowsAsync<HttpRequestException>(async () => await pipeline.ExecuteAsync<int>(_ => throw new HttpRequestException()));

        var store = services.GetRequiredService<InMemoryCircuitStateStore>();
        Assert.Same(store, options.StateStore);
        Assert.Equal(StoredCircuitState.Open, (await store.ReadAsync("from-di", CancellationToken.None)).Snapshot.State);
    }

    [Fact]
    public async Task Telemetry_FullCycleAndStoreFailure_ReportsPollyEventNamesAndSeverities()
    {
        var listener = new RecordingTelemetryListener();
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        var store = new InMemoryCircuitStateStore();
        var options = ValidOptions();
        options.FailureThreshold = 1;
        options.SuccessThreshold = 1;
        options.StateStore = store;
        var builder = new ResiliencePipelineBuilder { TimeProvider = time };
        builder.AddDistributedCircuitBreaker(options);
        var pipeline = builder.ConfigureTelemetry(new Polly.Telemetry.TelemetryOptions { TelemetryListeners = { listener } }).Build();

        await Assert.ThrowsAsync<HttpRequestException>(async () => await pipeline.ExecuteAsync(_ => throw new HttpRequestException()));
        time.Advance(options.BreakDuration);
        await pipeline.ExecuteAsync(_ => default);

        Assert.Equal(
            [
                ("OnCircuitOpened", ResilienceEventSeverity.Error),
                ("OnCircuitHalfOpened", ResilienceEventSeverity.Warning),
                ("OnCircuitClosed", ResilienceEventSeverity.Information),
            ],
            listener.Events.Where(e => e.Item1.StartsWith("OnCircuit", StringComparison.Ordinal)));

        options.StateStore = new TestKit.FaultyCircuitStateStore(store) { Mode = TestKit.FaultyCircuitStateStore.Fault.Throw };
        var failing = new ResiliencePipelineBuilder();
        failing.AddDistributedCircuitBreaker(options);
        await failing.ConfigureTelemetry(new Polly.Telemetry.TelemetryOptions { TelemetryListeners = { listener } }).Build().ExecuteAsync(_ => default);

        Assert.Contains(("OnCircuitStateStoreFailure", ResilienceEventSeverity.Warning), listener.Events);
    }

    [Theory]
    [InlineData(CircuitConsistency.Atomic)]
    [InlineData(CircuitConsistency.LastWriterWins)]
    public async Task Telemetry_OwnUncountedFailureReachesTheLastKnownCount_ReportsTheOpeningOnTheLastKnownState(CircuitConsistency consistency)
    {
        var listener = new RecordingTelemetryListener();
        var shared = new InMemoryCircuitStateStore();
        var options = ValidOptions();
        await shared.WriteAsync(options.CircuitId!, CircuitSnapshot.Initial with { FailureCount = 4, LastFailureUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), StateTimestampUnixMs = 1 }, CancellationToken.None);
        var store = new TestKit.FaultyCircuitStateStore(shared);
        options.StateStore = store;
        options.Consistency = consistency;
        var pipeline = new ResiliencePipelineBuilder()
            .AddDistributedCircuitBreaker(options)
            .ConfigureTelemetry(new TelemetryOptions { TelemetryListeners = { listener } })
            .Build();

        // Four failures are stored; this one never reaches the store, which goes down while the call runs.
        await Assert.ThrowsAsync<HttpRequestException>(async () => await pipeline.ExecuteAsync(_ =>
        {
            store.Mode = TestKit.FaultyCircuitStateStore.Fault.Throw;
            throw new HttpRequestException("down");
        }));

        Assert.Contains(("OnCircuitOpenedOnLastKnownState", ResilienceEventSeverity.Warning), listener.Events);
        Assert.DoesNotContain(listener.Events, e => e.Item1 is "OnCircuitOpened" or "OnLocalCircuitOpened");
        await Assert.ThrowsAsync<Polly.CircuitBreaker.BrokenCircuitException>(async () => await pipeline.ExecuteAsync(_ => default));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task StoreFailure_PollyTelemetryLogging_LogsOneLine(bool breakerHasLogger)
    {
        using var loggerProvider = new FakeLoggerProvider();
        using var loggerFactory = LoggerFactory.Create(logging => logging.AddProvider(loggerProvider));
        var options = ValidOptions();
        options.StateStore = new TestKit.FaultyCircuitStateStore(new InMemoryCircuitStateStore()) { Mode = TestKit.FaultyCircuitStateStore.Fault.Throw };
        options.Logger = breakerHasLogger ? loggerFactory.CreateLogger("Polly.Distributed.CircuitBreaker") : null;
        var pipeline = new ResiliencePipelineBuilder()
            .AddDistributedCircuitBreaker(options)
            .ConfigureTelemetry(loggerFactory)
            .Build();

        await pipeline.ExecuteAsync(_ => default);

        var lines = loggerProvider.Collector.GetSnapshot()
            .Where(r => r.Level >= LogLevel.Warning && (r.Message.Contains("OnCircuitStateStoreFailure", StringComparison.Ordinal) || r.Id.Name == "CircuitStateStoreFailure"))
            .ToList();
        Assert.Single(lines);
    }

    private static DistributedCircuitBreakerStrategyOptions ValidOptions() => new()
    {
        CircuitId = "orders-api",
        StateStore = new InMemoryCircuitStateStore(),
    };

    private sealed class RecordingTelemetryListener : TelemetryListener
    {
        public List<(string, ResilienceEventSeverity)> Events { get; } = [];

        public override void Write<TResult, TArgs>(in TelemetryEventArguments<TResult, TArgs> args)
        {
            lock (Events)
            {
                Events.Add((args.Event.EventName, args.Event.Severity));
            }
        }
    }
}
