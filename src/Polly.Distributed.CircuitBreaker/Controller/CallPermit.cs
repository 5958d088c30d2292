namespace Polly.Distributed.CircuitBreaker.Controller;

/// <summary>
/// The result of the check before a call.
/// </summary>
/// <param name="Rejection">The exception to return instead of calling, or <see langword="null"/> when the call may pass.</param>
/// <param name="Observed">The state the decision was made on, or <see langword="null"/> when the store failed and the call passes unrecorded.</param>
/// <param name="ProbeOwner">In atomic mode, the lease identity when this call is the half-open probe.</param>
internal readonly record struct CallPermit(Exception? Rejection, CircuitSnapshot? Observed, string? ProbeOwner)
{
    public static CallPermit FailedOpen => default;

    public static CallPermit Allowed(CircuitSnapshot observed, string? probeOwner = null) => new(null, observed, probeOwner);

    public static CallPermit Rejected(Exception rejection, CircuitSnapshot observed) => new(rejection, observed, null);
}
