namespace Polly.Distributed.CircuitBreaker.Controller;

/// <summary>
/// The result of the check before a call.
/// </summary>
/// <param name="Rejection">The exception to return instead of calling, or <see langword="null"/> when the call may pass.</param>
/// <param name="Observed">The stored entry the decision was made on, or <see langword="null"/> when the store failed and the call passes unrecorded.</param>
/// <param name="ProbeOwner">In atomic mode, the lease identity when this call is the half-open probe.</param>
internal readonly record struct CallPermit(Exception? Rejection, CircuitStateEntry? Observed, string? ProbeOwner)
{
    public static CallPermit FailedOpen => default;

    public static CallPermit Allowed(CircuitStateEntry observed, string? probeOwner = null) => new(null, observed, probeOwner);

    public static CallPermit Rejected(Exception rejection, CircuitStateEntry observed) => new(rejection, observed, null);
}
