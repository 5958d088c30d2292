namespace Polly.Distributed.CircuitBreaker;

/// <summary>
/// The state of one process's own circuit, which it keeps beside the shared one with the same options: it opens on this
/// process's failures alone when the shared circuit has not opened (a count lost to an overwrite or a failing store, or a
/// fleet quorum not met), as Polly's own breaker would, and writes nothing to the store.
/// </summary>
public enum LocalCircuitState
{
    /// <summary>This process's failures are below the threshold: the shared circuit decides.</summary>
    Closed,

    /// <summary>This process rejects its own calls until its break ends.</summary>
    Open,

    /// <summary>This process lets one probe through; its outcome closes or re-opens the local circuit.</summary>
    HalfOpen,
}
