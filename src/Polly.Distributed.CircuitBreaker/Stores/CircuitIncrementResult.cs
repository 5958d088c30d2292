namespace Polly.Distributed.CircuitBreaker;

/// <summary>
/// The result of <see cref="ICircuitStateStore.TryIncrementFailureAsync"/>.
/// </summary>
/// <param name="Outcome">What the store did.</param>
/// <param name="Current">The stored entry after the request, as the store returned it.</param>
public readonly record struct CircuitIncrementResult(CircuitIncrementOutcome Outcome, StoredCircuit Current);
