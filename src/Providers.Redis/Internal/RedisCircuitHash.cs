using StackExchange.Redis;

namespace Polly.Distributed.CircuitBreaker.Redis.Internal;

/// <summary>
/// Maps between <see cref="CircuitSnapshot"/> and the fields of a circuit hash, in the encoding the Lua scripts use.
/// </summary>
internal static class RedisCircuitHash
{
    public const string Missing = "!";

    public static readonly RedisValue[] FieldNames = [.. CircuitSnapshotSchema.OwnedAttributes.Select(name => (RedisValue)name)];

    public static string Encode(RedisValue value) => value.IsNull ? Missing : "=" + (string?)value;

    public static string[] Encode(CircuitSnapshot snapshot)
    {
        var written = CircuitSnapshotSchema.Format(snapshot).ToDictionary(pair => pair.Key, pair => pair.Value, StringComparer.Ordinal);
        return [.. CircuitSnapshotSchema.OwnedAttributes.Select(name => written.TryGetValue(name, out var value) ? "=" + value : Missing)];
    }

    public static CircuitStateEntry ToEntry(string[] encoded)
    {
        var exists = encoded.Any(value => value != Missing);
        if (!exists)
        {
            return new CircuitStateEntry(CircuitSnapshot.Initial, false, new RedisHashVersion(encoded));
        }

        var snapshot = CircuitSnapshotSchema.Parse(
            name =>
            {
                var value = encoded[IndexOf(name)];
                return value == Missing ? null : value[1..];
            },
            out var malformedReason);
        return new CircuitStateEntry(snapshot, true, new RedisHashVersion(encoded), malformedReason);
    }

    public static CircuitStateEntry Written(CircuitSnapshot snapshot) =>
        new(snapshot, true, new RedisHashVersion(Encode(snapshot)));

    private static int IndexOf(string name)
    {
        for (var i = 0; i < CircuitSnapshotSchema.OwnedAttributes.Count; i++)
        {
            if (CircuitSnapshotSchema.OwnedAttributes[i] == name)
            {
                return i;
            }
        }

        throw new ArgumentOutOfRangeException(nameof(name), name, "Not an owned attribute.");
    }
}
