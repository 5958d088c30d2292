using System.Collections.Concurrent;

namespace Polly.Distributed.CircuitBreaker;

/// <summary>
/// A thread-safe <see cref="ICircuitStateStore"/> in process memory, for tests and local runs.
/// Breakers share a circuit only when they share this instance.
/// </summary>
public sealed class InMemoryCircuitStateStore : ICircuitStateStore
{
    private readonly ConcurrentDictionary<string, StoredCircuit> _items = new(StringComparer.Ordinal);

    /// <inheritdoc/>
    public ValueTask<StoredCircuit> ReadAsync(string circuitId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(circuitId);
        cancellationToken.ThrowIfCancellationRequested();

        return new(_items.TryGetValue(circuitId, out var entry) ? entry : StoredCircuit.Missing);
    }

    /// <inheritdoc/>
    public ValueTask<bool> WriteAsync(string circuitId, CircuitSnapshot snapshot, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(circuitId);
        ArgumentNullException.ThrowIfNull(snapshot);
        cancellationToken.ThrowIfCancellationRequested();

        var stored = Stored(snapshot);
        var kept = _items.AddOrUpdate(
            circuitId,
            stored,
            (_, current) => current.Snapshot.StateTimestampUnixMs > snapshot.StateTimestampUnixMs ? current : stored);
        return new(ReferenceEquals(kept, stored));
    }

    /// <inheritdoc/>
    public ValueTask<CircuitWriteResult> TryReplaceAsync(
        string circuitId,
        StoredCircuit expected,
        CircuitSnapshot replacement,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(circuitId);
        ArgumentNullException.ThrowIfNull(expected);
        ArgumentNullException.ThrowIfNull(replacement);
        cancellationToken.ThrowIfCancellationRequested();

        var stored = Stored(replacement);
        var written = expected.Exists && expected.ConcurrencyToken is not null
            ? _items.TryUpdate(circuitId, stored, expected)
            : !expected.Exists && _items.TryAdd(circuitId, stored);

        return new(written
            ? new CircuitWriteResult(true, stored)
            : new CircuitWriteResult(false, _items.TryGetValue(circuitId, out var current) ? current : StoredCircuit.Missing));
    }

    /// <inheritdoc/>
    public ValueTask<CircuitWriteResult> TryClaimProbeAsync(
        string circuitId,
        string owner,
        long leaseExpiresUnixMs,
        long nowUnixMs,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(circuitId);
        ArgumentNullException.ThrowIfNull(owner);
        cancellationToken.ThrowIfCancellationRequested();

        while (true)
        {
            if (!_items.TryGetValue(circuitId, out var current)
                || current.Snapshot.State != StoredCircuitState.HalfOpen
                || (current.Snapshot.ProbeLeaseOwner is not null
                    && current.Snapshot.ProbeLeaseExpiresUnixMs > nowUnixMs
                    && current.Snapshot.ProbeLeaseEpisode == current.Snapshot.NextAttemptUnixMs))
            {
                return new(new CircuitWriteResult(false, current ?? StoredCircuit.Missing));
            }

            var claimed = Stored(current.Snapshot with
            {
                ProbeLeaseOwner = owner,
                ProbeLeaseExpiresUnixMs = leaseExpiresUnixMs,
                ProbeLeaseEpisode = current.Snapshot.NextAttemptUnixMs,
                StateTimestampUnixMs = nowUnixMs,
            });

            if (_items.TryUpdate(circuitId, claimed, current))
            {
                return new(new CircuitWriteResult(true, claimed));
            }
        }
    }

    /// <inheritdoc/>
    public ValueTask<CircuitIncrementResult> TryIncrementFailureAsync(
        string circuitId,
        CircuitFailureIncrement increment,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(circuitId);
        ArgumentNullException.ThrowIfNull(increment);
        cancellationToken.ThrowIfCancellationRequested();

        while (true)
        {
            var exists = _items.TryGetValue(circuitId, out var current);
            current ??= StoredCircuit.Missing;
            var (outcome, next) = increment.ApplyTo(current.Snapshot);
            if (next is null)
            {
                return new(new CircuitIncrementResult(outcome, current));
            }

            var stored = Stored(next);
            if (exists ? _items.TryUpdate(circuitId, stored, current) : _items.TryAdd(circuitId, stored))
            {
                return new(new CircuitIncrementResult(outcome, stored));
            }
        }
    }

    // A fresh token per write makes the entry's record equality an exact version check.
    private static StoredCircuit Stored(CircuitSnapshot snapshot) => new(snapshot, true, new object());
}
