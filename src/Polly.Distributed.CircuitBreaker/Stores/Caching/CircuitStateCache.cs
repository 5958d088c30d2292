using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace Polly.Distributed.CircuitBreaker.Stores.Caching;

/// <summary>
/// The process-wide cache: one <see cref="KnownCircuitState"/> per store instance and circuit id, shared by every breaker
/// of the process. An entry lives as long as a breaker uses it: the cache holds it weakly, so a process that builds
/// pipelines for many circuit ids over its life (per-host pipelines, reloads) keeps only those still in use.
/// </summary>
internal static class CircuitStateCache
{
    private const int SweepEvery = 1_024;

    private static readonly ConditionalWeakTable<ICircuitStateStore, ConcurrentDictionary<string, WeakReference<KnownCircuitState>>> Stores = new();
    private static int _lookups;

    public static KnownCircuitState For(ICircuitStateStore store, string circuitId)
    {
        var circuits = Stores.GetValue(store, static _ => new ConcurrentDictionary<string, WeakReference<KnownCircuitState>>(StringComparer.Ordinal));
        if (Interlocked.Increment(ref _lookups) % SweepEvery == 0)
        {
            Sweep(circuits);
        }

        while (true)
        {
            var reference = circuits.GetOrAdd(circuitId, static _ => new WeakReference<KnownCircuitState>(new KnownCircuitState()));
            if (reference.TryGetTarget(out var state))
            {
                return state;
            }

            var fresh = new KnownCircuitState();
            if (circuits.TryUpdate(circuitId, new WeakReference<KnownCircuitState>(fresh), reference))
            {
                return fresh;
            }
        }
    }

    /// <summary>How many circuit entries a store's cache holds, collected or not (for tests).</summary>
    internal static int CountFor(ICircuitStateStore store) => Stores.TryGetValue(store, out var circuits) ? circuits.Count : 0;

    private static void Sweep(ConcurrentDictionary<string, WeakReference<KnownCircuitState>> circuits)
    {
        foreach (var (circuitId, reference) in circuits)
        {
            if (!reference.TryGetTarget(out _))
            {
                circuits.TryRemove(new KeyValuePair<string, WeakReference<KnownCircuitState>>(circuitId, reference));
            }
        }
    }
}
