using Polly.Distributed.CircuitBreaker.State;

namespace Polly.Distributed.CircuitBreaker.Controller;

/// <summary>
/// The result of the check before a call.
/// </summary>
/// <param name="Rejection">The exception to return instead of calling, or <see langword="null"/> when the call may pass.</param>
/// <param name="Observed">The stored entry the decision was made on, or <see langword="null"/> when the store failed.</param>
/// <param name="ProbeOwner">In atomic mode, the lease identity when this call is the half-open probe.</param>
/// <param name="StoreTimeLeft">What the call may still spend waiting for the store when it records its outcome.</param>
/// <param name="LocalProbe">Whether the call is the probe of this process's own half-open circuit (<see cref="LocalCircuit"/>).</param>
/// <param name="ProbeLocally">
/// Whether the fleet's break has ended with no answer from the store on who probes: the call may pass only as this
/// process's own probe (<see cref="CheckVerdict.ProbeLocally"/>).
/// </param>
internal readonly record struct CallPermit(Exception? Rejection, StoredCircuit? Observed, string? ProbeOwner, TimeSpan StoreTimeLeft, bool LocalProbe = false, bool ProbeLocally = false)
{
    public static CallPermit FailedOpen(TimeSpan storeTimeLeft) => new(null, null, null, storeTimeLeft);

    public static CallPermit Allowed(StoredCircuit observed, TimeSpan storeTimeLeft, string? probeOwner = null) => new(null, observed, probeOwner, storeTimeLeft);

    public static CallPermit Rejected(Exception rejection, StoredCircuit? observed) => new(rejection, observed, null, TimeSpan.Zero);
}
