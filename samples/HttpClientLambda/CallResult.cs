namespace HttpClientLambda;

/// <summary>The body of the <c>/</c> route: what happened to the downstream call.</summary>
/// <param name="Outcome"><c>ok</c>, <c>failed</c> (the downstream failed) or <c>rejected</c> (the circuit is open).</param>
/// <param name="DownstreamStatus">The downstream status code, when it answered.</param>
/// <param name="RetryAfterMs">For a rejection, when the circuit may let calls through again.</param>
/// <param name="Error">The error, when the call failed.</param>
public sealed record CallResult(string Outcome, int? DownstreamStatus, long? RetryAfterMs, string? Error);
