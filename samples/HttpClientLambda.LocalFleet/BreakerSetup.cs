namespace HttpClientLambda.LocalFleet;

/// <summary>Which breaker the environments use in a scenario.</summary>
/// <param name="Title">How the timeline names it.</param>
/// <param name="Kind"><c>in-process</c> or <c>distributed</c>.</param>
/// <param name="Consistency">For distributed: <c>LastWriterWins</c> or <c>Atomic</c>.</param>
internal sealed record BreakerSetup(string Title, string Kind, string Consistency);
