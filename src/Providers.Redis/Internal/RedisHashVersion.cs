namespace Polly.Distributed.CircuitBreaker.Redis.Internal;

/// <summary>
/// The concurrency token of a Redis entry: each owned field as stored, encoded '=' + value, or '!' when missing.
/// </summary>
internal sealed class RedisHashVersion(string[] encodedFields)
{
    public string[] EncodedFields { get; } = encodedFields;
}
