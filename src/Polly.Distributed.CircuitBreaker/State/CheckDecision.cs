namespace Polly.Distributed.CircuitBreaker.State;

/// <summary>
/// The state machine's decision before a call.
/// </summary>
/// <param name="Verdict">What to do.</param>
/// <param name="Next">The state to write for <see cref="CheckVerdict.Transition"/>.</param>
/// <param name="RetryAfterMs">For <see cref="CheckVerdict.Reject"/>, how long until a call may pass.</param>
/// <param name="Isolated">For <see cref="CheckVerdict.Reject"/>, whether the circuit was isolated manually.</param>
internal readonly record struct CheckDecision(CheckVerdict Verdict, CircuitSnapshot? Next, long RetryAfterMs, bool Isolated)
{
    public static CheckDecision Allow => new(CheckVerdict.Allow, null, 0, false);

    public static CheckDecision ClaimProbe => new(CheckVerdict.ClaimProbe, null, 0, false);

    public static CheckDecision ProbeLocally => new(CheckVerdict.ProbeLocally, null, 0, false);

    public static CheckDecision Reject(long retryAfterMs, bool isolated = false) => new(CheckVerdict.Reject, null, Math.Max(0, retryAfterMs), isolated);

    public static CheckDecision Transition(CircuitSnapshot next) => new(CheckVerdict.Transition, next, 0, false);
}
