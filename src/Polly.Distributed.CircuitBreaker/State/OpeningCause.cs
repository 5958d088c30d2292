namespace Polly.Distributed.CircuitBreaker.State;

/// <summary>
/// Who opened a circuit and what tipped it, as recorded in the item: the environment id, and the exception type or HTTP
/// status of the failure that opened it, bounded in size and free of message text (which could carry personal data).
/// </summary>
internal sealed record OpeningCause(string OpenedBy, string? Reason)
{
    private const int MaxLength = 64;

    public static OpeningCause Of<TResult>(string environmentId, Outcome<TResult> outcome) => new(Bounded(environmentId)!, Bounded(ReasonOf(outcome)));

    private static string? ReasonOf<TResult>(Outcome<TResult> outcome) => outcome switch
    {
        { Exception: { } exception } => exception.GetType().Name,
        { Result: HttpResponseMessage response } => $"HTTP {(int)response.StatusCode}",
        { Result: { } result } => result.GetType().Name,
        _ => null,
    };

    private static string? Bounded(string? text) => text is { Length: > MaxLength } ? text[..MaxLength] : text;
}
