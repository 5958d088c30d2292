namespace Polly.Distributed.CircuitBreaker;

/// <summary>
/// Keeps the shared state of circuits, one item per circuit id. Implementations know nothing of Polly.
/// </summary>
/// <remarks>
/// Implementations must be thread-safe. They may throw on any error: the breaker bounds every call with a
/// timeout, treats any exception as a store failure and lets the protected call through (fails open).
/// </remarks>
public interface ICircuitStateStore
{
    /// <summary>Reads a circuit's state.</summary>
    /// <param name="circuitId">The circuit id.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The stored state; <see cref="CircuitSnapshot.Initial"/> with <see cref="StoredCircuit.Exists"/> false when there is no item.</returns>
    ValueTask<StoredCircuit> ReadAsync(string circuitId, CancellationToken cancellationToken);

    /// <summary>
    /// Writes every owned attribute of a circuit's state (last writer wins), leaving other attributes untouched, unless the
    /// stored state is newer (a larger <c>stateTimestamp</c>): a write that was abandoned and arrives late never replaces a
    /// newer state. Such a write is skipped without an error, and reported as skipped.
    /// </summary>
    /// <param name="circuitId">The circuit id.</param>
    /// <param name="snapshot">The state to write.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns><see langword="true"/> when the state was stored; <see langword="false"/> when a newer stored state made the store skip it.</returns>
    ValueTask<bool> WriteAsync(string circuitId, CircuitSnapshot snapshot, CancellationToken cancellationToken);

    /// <summary>
    /// Writes a circuit's state only if the stored item is unchanged since <paramref name="expected"/> was read
    /// (compare-and-set), whoever made the change.
    /// </summary>
    /// <param name="circuitId">The circuit id.</param>
    /// <param name="expected">The entry the replacement was computed from, as returned by this store.</param>
    /// <param name="replacement">The state to write.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>Whether the write happened, and the stored entry after it, or the conflicting entry when the store can return it.</returns>
    ValueTask<CircuitWriteResult> TryReplaceAsync(
        string circuitId,
        StoredCircuit expected,
        CircuitSnapshot replacement,
        CancellationToken cancellationToken);

    /// <summary>
    /// Claims the half-open probe lease: succeeds only if the stored circuit is half-open and holds no valid lease, one with
    /// an owner, an expiry after <paramref name="nowUnixMs"/> and an episode equal to the stored <c>nextAttempt</c>. The claim
    /// writes the owner, the expiry, the episode (the stored <c>nextAttempt</c>) and <c>stateTimestamp</c> = <paramref name="nowUnixMs"/>.
    /// </summary>
    /// <param name="circuitId">The circuit id.</param>
    /// <param name="owner">The identity of the claiming call.</param>
    /// <param name="leaseExpiresUnixMs">When the lease lapses if its holder never reports back.</param>
    /// <param name="nowUnixMs">The current time, epoch milliseconds.</param>
    /// <param name="cancellationToken">Cancels the claim.</param>
    /// <returns>Whether the lease was claimed, and the stored entry after it, or the conflicting entry when the store can return it.</returns>
    ValueTask<CircuitWriteResult> TryClaimProbeAsync(
        string circuitId,
        string owner,
        long leaseExpiresUnixMs,
        long nowUnixMs,
        CancellationToken cancellationToken);

    /// <summary>
    /// Counts one failure of a closed circuit atomically, and opens the circuit when the count reaches the threshold,
    /// as described on <see cref="CircuitFailureIncrement"/>. Unlike a compare-and-set, concurrent increments never
    /// conflict: each is applied in one step by the store.
    /// </summary>
    /// <param name="circuitId">The circuit id.</param>
    /// <param name="increment">The failure to count.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>What the store did, and the stored entry after it.</returns>
    ValueTask<CircuitIncrementResult> TryIncrementFailureAsync(
        string circuitId,
        CircuitFailureIncrement increment,
        CancellationToken cancellationToken);
}
