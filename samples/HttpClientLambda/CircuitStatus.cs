namespace HttpClientLambda;

/// <summary>The body of the <c>/status</c> route: the shared circuit state.</summary>
public sealed record CircuitStatus(string CircuitId, string State, long FailureCount, long SuccessCount, long NextAttempt, long ConsecutiveOpens);
