namespace Polly.Distributed.CircuitBreaker;

/// <summary>
/// The state of a circuit as it is stored in the shared item (<c>circuitState</c>).
/// </summary>
/// <remarks>
/// Unlike Polly's in-process <see cref="Polly.CircuitBreaker.CircuitState"/>, there is no isolated state:
/// a manually isolated circuit is stored as <see cref="Open"/> until <see cref="CircuitSnapshot.IsolatedUntilUnixMs"/>,
/// which processes that do not know about isolation (such as the Node.js library) also honour.
/// </remarks>
public enum StoredCircuitState
{
    /// <summary>Calls flow; failures are counted (<c>CLOSED</c>).</summary>
    Closed,

    /// <summary>Calls are rejected until the next attempt time (<c>OPEN</c>).</summary>
    Open,

    /// <summary>Trial calls decide whether the circuit closes or opens again (<c>HALF-OPEN</c>).</summary>
    HalfOpen,
}
