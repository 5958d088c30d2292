namespace Polly.Distributed.CircuitBreaker;

/// <summary>
/// What a store did with a <see cref="CircuitFailureIncrement"/>.
/// </summary>
public enum CircuitIncrementOutcome
{
    /// <summary>Nothing was written: the stored circuit is not closed, or its item is malformed.</summary>
    NotCounted,

    /// <summary>The failure was counted; the circuit stayed closed or another writer opened it.</summary>
    Counted,

    /// <summary>The failure was counted and this request opened the circuit.</summary>
    CountedAndOpened,
}
