using Polly.Registry;

namespace Polly.Distributed.CircuitBreaker.Tests;

/// <summary>Manual controls and state providers let go of the breakers of pipelines that were reloaded or disposed.</summary>
public sealed class DistributedCircuitBreakerRegistrationTests
{
    private readonly InMemoryCircuitStateStore _store = new();

    [Fact]
    public async Task Reload_ThousandRebuiltPipelines_RegistrationsDoNotGrow()
    {
        var control = new DistributedCircuitBreakerManualControl();
        var provider = new DistributedCircuitBreakerStateProvider();
        using var registry = new ResiliencePipelineRegistry<string>();
        var generation = 0;
        var reload = new CancellationTokenSource();
        registry.TryAddBuilder("per-host", (builder, context) =>
        {
            context.AddReloadToken(reload.Token);

            // Each rebuild is a different circuit, as per-host pipelines and changed circuit ids are.
            builder.AddDistributedCircuitBreaker(Options($"host-{generation++}", control, provider));
        });

        await registry.GetPipeline("per-host").ExecuteAsync(static _ => ValueTask.CompletedTask);
        for (var i = 0; i < 1000; i++)
        {
            var previous = reload;
            reload = new CancellationTokenSource();
            await previous.CancelAsync();
            previous.Dispose();
        }

        await Eventually.TrueAsync(() => control.AttachedCount == 1 && provider.CircuitIds.Count == 1);
        Assert.Equal(["host-1000"], provider.CircuitIds);
    }

    [Fact]
    public async Task RegistryDisposed_AttachedBreakers_AreReleased()
    {
        var control = new DistributedCircuitBreakerManualControl();
        var provider = new DistributedCircuitBreakerStateProvider();
        var registry = new ResiliencePipelineRegistry<int>();
        for (var i = 0; i < 20; i++)
        {
            var circuitId = $"host-{i}";
            registry.GetOrAddPipeline(i, builder => builder.AddDistributedCircuitBreaker(Options(circuitId, control, provider)));
        }

        Assert.Equal(20, control.AttachedCount);

        await registry.DisposeAsync();

        await Eventually.TrueAsync(() => control.AttachedCount == 0 && provider.CircuitIds.Count == 0);
        await control.IsolateAsync();
        for (var i = 0; i < 20; i++)
        {
            Assert.False((await _store.ReadAsync($"host-{i}", CancellationToken.None)).Snapshot.IsIsolated);
        }
    }

    [Fact]
    public async Task RegistryDisposed_DeclaredCircuit_StaysCovered()
    {
        var control = new DistributedCircuitBreakerManualControl(_store, ["orders"]);
        var registry = new ResiliencePipelineRegistry<string>();
        registry.GetOrAddPipeline("orders", builder => builder.AddDistributedCircuitBreaker(Options("orders", control, provider: null)));

        await registry.DisposeAsync();
        await Eventually.TrueAsync(() => control.AttachedCount == 0);
        await control.IsolateAsync();

        Assert.True((await _store.ReadAsync("orders", CancellationToken.None)).Snapshot.IsIsolated);
    }

    private DistributedCircuitBreakerStrategyOptions Options(
        string circuitId,
        DistributedCircuitBreakerManualControl control,
        DistributedCircuitBreakerStateProvider? provider) => new()
        {
            CircuitId = circuitId,
            StateStore = _store,
            ManualControl = control,
            StateProvider = provider,
        };
}
