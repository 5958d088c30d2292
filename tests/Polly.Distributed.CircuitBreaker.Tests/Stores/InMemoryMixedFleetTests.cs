using Polly.Distributed.CircuitBreaker.TestKit;

namespace Polly.Distributed.CircuitBreaker.Tests.Stores;

public sealed class InMemoryMixedFleetTests : MixedFleetTests
{
    private readonly InMemoryCircuitStateStore _store = new();

    protected override ICircuitStateStore CreateStore() => new SeparateCacheView(_store);

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

    private sealed class SeparateCacheView(ICircuitStateStore inner) : ICircuitStateStore
    {
        public ValueTask<CircuitStateEntry> ReadAsync(string circuitId, CancellationToken cancellationToken) => inner.ReadAsync(circuitId, cancellationToken);

        public ValueTask WriteAsync(string circuitId, CircuitSnapshot snapshot, CancellationToken cancellationToken) => inner.WriteAsync(circuitId, snapshot, cancellationToken);

        public ValueTask<CircuitWriteResult> TryReplaceAsync(string circuitId, CircuitStateEntry expected, CircuitSnapshot replacement, CancellationToken cancellationToken) =>
            inner.TryReplaceAsync(circuitId, expected, replacement, cancellationToken);

        public ValueTask<CircuitWriteResult> TryClaimProbeAsync(string circuitId, string owner, long leaseExpiresUnixMs, long nowUnixMs, CancellationToken cancellationToken) =>
            inner.TryClaimProbeAsync(circuitId, owner, leaseExpiresUnixMs, nowUnixMs, cancellationToken);

        public ValueTask<CircuitIncrementResult> TryIncrementFailureAsync(string circuitId, CircuitFailureIncrement increment, CancellationToken cancellationToken) =>
            inner.TryIncrementFailureAsync(circuitId, increment, cancellationToken);
    }
}
