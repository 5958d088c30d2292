using Polly.Distributed.CircuitBreaker.TestKit;

namespace Polly.Distributed.CircuitBreaker.Tests.Stores;

public sealed class InMemoryMixedFleetTests : MixedFleetTests
{
    private readonly InMemoryCircuitStateStore _store = new();

    protected override ICircuitStateStore CreateStore() => new SeparateCacheStore(_store);

    // The in-memory store keeps snapshots, not attributes: a foreign write is read, changed attribute by attribute, and written back.
    protected override async Task SetAttributesAsync(string circuitId, IReadOnlyList<(string Name, string Text, bool IsNumber)> attributes)
    {
        var current = (await _store.ReadAsync(circuitId, CancellationToken.None)).Snapshot;
        var stored = CircuitSnapshotSchema.Format(current).ToDictionary(pair => pair.Key, pair => (string?)pair.Value, StringComparer.Ordinal);
        foreach (var (name, text, _) in attributes)
        {
            stored[name] = text;
        }

        var next = CircuitSnapshotSchema.Parse(name => stored.GetValueOrDefault(name), out _);
        var entry = await _store.ReadAsync(circuitId, CancellationToken.None);
        await _store.TryReplaceAsync(circuitId, entry, next, CancellationToken.None);
    }
}
