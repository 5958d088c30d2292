namespace Polly.Distributed.CircuitBreaker;

/// <summary>
/// A circuit's state as read from a store, with what the store needs to detect later changes.
/// </summary>
/// <param name="Snapshot">The state; <see cref="CircuitSnapshot.Initial"/> when there is no item or it is malformed.</param>
/// <param name="Exists">Whether the store holds an item for the circuit.</param>
/// <param name="ConcurrencyToken">
/// An opaque value, meaningful only to the store that produced it, that identifies the stored version for
/// <see cref="ICircuitStateStore.TryReplaceAsync"/>; <see langword="null"/> when the store has none.
/// </param>
/// <param name="MalformedReason">Why the stored item could not be read, or <see langword="null"/> when it was read.</param>
public sealed record StoredCircuit(
    CircuitSnapshot Snapshot,
    bool Exists,
    object? ConcurrencyToken,
    string? MalformedReason = null)
{
    /// <summary>Gets the entry for a circuit that has no stored item.</summary>
    public static StoredCircuit Missing { get; } = new(CircuitSnapshot.Initial, false, null);
}
