using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace Polly.Distributed.CircuitBreaker.Stores.Caching;

/// <summary>
/// The process-wide cache: one <see cref="CachedCircuitState"/> per store instance and circuit id.
/// Entries live as long as their store.
/// </summary>
internal static class CircuitStateCache
{
    private static readonly ConditionalWeakTable<ICircuitStateStore, ConcurrentDictionary<string, CachedCircuitState>> Stores = new();

    public static CachedCircuitState For(ICircuitStateStore store, string circuitId) =>
        Stores.GetValue(store, static _ => new ConcurrentDictionary<string, CachedCircuitState>(StringComparer.Ordinal))
            .GetOrAdd(circuitId, static _ => new CachedCircuitState());
}
