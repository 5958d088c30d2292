using System.Diagnostics.Metrics;
using Polly.Distributed.CircuitBreaker.Controller;

namespace Polly.Distributed.CircuitBreaker.Telemetry;

/// <summary>
/// The state gauge (<see cref="DistributedCircuitBreakerMeter.StateInstrument"/>): for every breaker of the process, the
/// state it last knew of its circuit, as 0 closed, 1 half-open, 2 open, 3 isolated. A circuit the process has not seen yet
/// reports nothing.
/// </summary>
/// <remarks>
/// A breaker is reported from when it is built until its strategy is disposed (a pipeline reload, a disposed registry).
/// The gauge holds breakers weakly, so one that is dropped without being disposed (a pipeline nobody disposes) leaves the
/// gauge when it is collected instead of staying in it for the life of the process.
/// </remarks>
internal static class CircuitStateGauge
{
    private static readonly object Gate = new();
    private static readonly HashSet<Entry> Entries = [];

    // Never read: creating it with the class publishes the gauge when the first breaker registers.
    private static readonly ObservableGauge<int> Gauge = DistributedCircuitBreakerMeter.Meter.CreateObservableGauge(
        DistributedCircuitBreakerMeter.StateInstrument,
        Observe,
        unit: "{state}",
        description: "The state this process last knew of the circuit: 0 closed, 1 half-open, 2 open, 3 isolated.");

    /// <summary>Reports the circuit of <paramref name="store"/> until the returned registration is disposed.</summary>
    public static IDisposable Register(CircuitStoreGateway store, string? pipelineName, string? pipelineInstance, string? strategyName)
    {
        List<KeyValuePair<string, object?>> tags = [new(DistributedCircuitBreakerMeter.CircuitIdTag, store.CircuitId)];
        AddIfSet(tags, DistributedCircuitBreakerMeter.PipelineNameTag, pipelineName);
        AddIfSet(tags, DistributedCircuitBreakerMeter.PipelineInstanceTag, pipelineInstance);
        AddIfSet(tags, DistributedCircuitBreakerMeter.StrategyNameTag, strategyName);

        var entry = new Entry(new WeakReference<CircuitStoreGateway>(store), [.. tags]);
        lock (Gate)
        {
            Entries.RemoveWhere(static e => !e.Store.TryGetTarget(out _));
            Entries.Add(entry);
        }

        return new Registration(() =>
        {
            lock (Gate)
            {
                Entries.Remove(entry);
            }
        });
    }

    /// <summary>How many breakers the gauge holds, collected or not (for tests).</summary>
    internal static int Count
    {
        get
        {
            lock (Gate)
            {
                return Entries.Count;
            }
        }
    }

    /// <summary>The gauge's value for a state.</summary>
    public static int ValueOf(CircuitSnapshot snapshot) => snapshot.State switch
    {
        StoredCircuitState.HalfOpen => 1,
        StoredCircuitState.Open when snapshot.IsIsolated => 3,
        StoredCircuitState.Open => 2,
        _ => 0,
    };

    private static List<Measurement<int>> Observe()
    {
        Entry[] entries;
        lock (Gate)
        {
            Entries.RemoveWhere(static e => !e.Store.TryGetTarget(out _));
            entries = [.. Entries];
        }

        var measurements = new List<Measurement<int>>(entries.Length);
        foreach (var entry in entries)
        {
            if (entry.Store.TryGetTarget(out var store) && store.LastKnown is { } known)
            {
                measurements.Add(new Measurement<int>(ValueOf(known.Snapshot), entry.Tags));
            }
        }

        return measurements;
    }

    private static void AddIfSet(List<KeyValuePair<string, object?>> tags, string name, string? value)
    {
        if (!string.IsNullOrEmpty(value))
        {
            tags.Add(new(name, value));
        }
    }

    // Compared by reference: two breakers of one circuit and pipeline are two entries.
    private sealed class Entry(WeakReference<CircuitStoreGateway> store, KeyValuePair<string, object?>[] tags)
    {
        public WeakReference<CircuitStoreGateway> Store { get; } = store;

        public KeyValuePair<string, object?>[] Tags { get; } = tags;
    }
}
