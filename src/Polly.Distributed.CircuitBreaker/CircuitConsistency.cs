namespace Polly.Distributed.CircuitBreaker;

/// <summary>
/// How a breaker writes the shared state.
/// </summary>
public enum CircuitConsistency
{
    /// <summary>
    /// Read, compute, write the whole state unconditionally: the semantics of circuitbreaker-lambda v1.x.
    /// Cheapest, but concurrent failures can overwrite each other's counts, and every process may probe a half-open circuit.
    /// </summary>
    LastWriterWins,

    /// <summary>
    /// Every change is a conditional write, retried on the fresh state when another writer got there first:
    /// no failure is lost, each transition happens once fleet-wide, and a half-open circuit admits one probe fleet-wide.
    /// </summary>
    Atomic,
}
