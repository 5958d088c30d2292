using System.Text;
using StackExchange.Redis;

namespace Polly.Distributed.CircuitBreaker.Redis.Internal;

/// <summary>
/// Maps between <see cref="CircuitSnapshot"/> and the fields of a circuit hash, in the encoding the Lua scripts use:
/// '=' followed by the stored bytes, or '!' for a missing field.
/// </summary>
internal static class RedisCircuitHash
{
    public const string Missing = "!";

    // The owned fields and the failing environments of a quorum: read with the state, and removed by a state write (a
    // compare-and-set writes every field it names, and a snapshot never carries the environments into one).
    private static readonly string[] Names = [.. CircuitSnapshotSchema.OwnedAttributes, CircuitSnapshotSchema.FailingEnvironmentsAttribute];

    public static readonly RedisValue[] FieldNames = [.. Names.Select(name => (RedisValue)name)];

    private static readonly RedisValue MissingValue = Missing;

    public static RedisValue Encode(RedisValue value)
    {
        if (value.IsNull)
        {
            return MissingValue;
        }

        var stored = (byte[])value!;
        var encoded = new byte[stored.Length + 1];
        encoded[0] = (byte)'=';
        stored.CopyTo(encoded, 1);
        return encoded;
    }

    public static string[] Encode(CircuitSnapshot snapshot)
    {
        var written = CircuitSnapshotSchema.Format(snapshot).ToDictionary(pair => pair.Key, pair => pair.Value, StringComparer.Ordinal);
        return [.. Names.Select(name => written.TryGetValue(name, out var value) ? "=" + value : Missing)];
    }

    public static StoredCircuit ToEntry(RedisValue[] encoded)
    {
        var exists = !encoded.All(IsMissing);
        if (!exists)
        {
            return new StoredCircuit(CircuitSnapshot.Initial, false, new RedisHashVersion(encoded));
        }

        // Bytes that are not UTF-8 decode with replacement characters, which the parser reads as malformed; the token keeps
        // the bytes themselves, so the compare-and-set that repairs the item matches what is stored.
        var snapshot = CircuitSnapshotSchema.Parse(
            name =>
            {
                var value = encoded[IndexOf(name)];
                var bytes = (byte[])value!;
                return IsMissing(value) ? null : Encoding.UTF8.GetString(bytes, 1, bytes.Length - 1);
            },
            out var malformedReason);
        return new StoredCircuit(snapshot, true, new RedisHashVersion(encoded), malformedReason);
    }

    public static StoredCircuit Written(CircuitSnapshot snapshot) =>
        new(snapshot, true, new RedisHashVersion([.. Encode(snapshot).Select(value => (RedisValue)value)]));

    private static bool IsMissing(RedisValue value) => value.IsNull || ((byte[])value!) is [(byte)'!'];

    private static int IndexOf(string name)
    {
        var index = Array.IndexOf(Names, name);
        return index >= 0 ? index : throw new ArgumentOutOfRangeException(nameof(name), name, "Not a field of the circuit hash.");
    }
}
