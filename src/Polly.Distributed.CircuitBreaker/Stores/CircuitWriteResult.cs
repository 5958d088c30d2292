namespace Polly.Distributed.CircuitBreaker;

/// <summary>
/// The result of a conditional store write.
/// </summary>
/// <param name="Succeeded">Whether the write happened.</param>
/// <param name="Current">
/// After a successful write, the stored entry; after a failed one, the entry that blocked it when the store
/// returned it, or <see langword="null"/> when the caller must read again.
/// </param>
public readonly record struct CircuitWriteResult(bool Succeeded, StoredCircuit? Current);
