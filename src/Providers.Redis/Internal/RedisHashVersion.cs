using StackExchange.Redis;

namespace Polly.Distributed.CircuitBreaker.Redis.Internal;

/// <summary>
/// The concurrency token of a Redis entry: each owned field exactly as stored (bytes, not text, so that a value that is
/// not valid UTF-8 still compares equal in the scripts), encoded '=' + value, or '!' when missing.
/// </summary>
internal sealed class RedisHashVersion(RedisValue[] encodedFields)
{
    public RedisValue[] EncodedFields { get; } = encodedFields;
}
