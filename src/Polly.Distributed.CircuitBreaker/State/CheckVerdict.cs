namespace Polly.Distributed.CircuitBreaker.State;

/// <summary>
/// What the state machine decides before a call.
/// </summary>
internal enum CheckVerdict
{
    /// <summary>Let the call through; nothing to write.</summary>
    Allow,

    /// <summary>Reject the call; nothing to write.</summary>
    Reject,

    /// <summary>Write the next state (open to half-open) and, once written, let the call through.</summary>
    Transition,

    /// <summary>Claim the half-open probe lease and let the call through only if the claim succeeds (atomic mode).</summary>
    ClaimProbe,

    /// <summary>
    /// The fleet's break has ended and the store has not answered who probes: the call may be this process's own probe,
    /// one per half-open window of its own, as Polly's breaker would send.
    /// </summary>
    ProbeLocally,
}
