namespace Polly.Distributed.CircuitBreaker;

/// <summary>
/// A request the breaker makes to its <see cref="ICircuitStateStore"/>, as named in store failure reports.
/// </summary>
public enum CircuitStateStoreOperation
{
    /// <summary>A read of the circuit (<see cref="ICircuitStateStore.ReadAsync"/>).</summary>
    Read,

    /// <summary>A last-writer-wins write (<see cref="ICircuitStateStore.WriteAsync"/>).</summary>
    Write,

    /// <summary>A compare-and-set (<see cref="ICircuitStateStore.TryReplaceAsync"/>).</summary>
    Replace,

    /// <summary>A claim of the half-open probe lease (<see cref="ICircuitStateStore.TryClaimProbeAsync"/>).</summary>
    ClaimProbe,

    /// <summary>An atomic failure count (<see cref="ICircuitStateStore.TryIncrementFailureAsync"/>).</summary>
    CountFailure,
}
