namespace Polly.Distributed.CircuitBreaker.DynamoDb.Internal;

/// <summary>
/// The expiry every write sets on an item, in epoch seconds as DynamoDB's time to live reads it: <see cref="TimeToLive"/>
/// after the latest of the write, the break and the probe lease the item holds, so nothing live is ever deleted; none for
/// an isolated circuit. Off when <see cref="TimeToLive"/> is <see langword="null"/>.
/// </summary>
internal sealed class DynamoDbItemExpiry(TimeSpan? timeToLive, string attributeName)
{
    /// <summary>The placeholder of the expiry attribute in expressions, whatever the attribute is called.</summary>
    public const string Placeholder = "#itemExpiry";

    /// <summary>The longest expiry accepted: ten years, far from any overflow of the epoch arithmetic.</summary>
    public static readonly TimeSpan Longest = TimeSpan.FromDays(3650);

    public TimeSpan? TimeToLive { get; } = timeToLive;

    public string AttributeName { get; } = attributeName;

    /// <summary>Whether a name is one of the circuit schema's attributes, or of this store's bookkeeping.</summary>
    public static bool IsReserved(string name) =>
        name is CircuitSnapshotSchema.IdAttribute or CircuitSnapshotSchema.FailingEnvironmentsAttribute or DynamoDbCircuitItem.RecentWriteIdsAttribute
        || CircuitSnapshotSchema.OwnedAttributes.Contains(name);

    /// <summary>The expiry of an item written as <paramref name="snapshot"/>; <see langword="null"/> when it gets none.</summary>
    public long? ExpiresAtUnixSeconds(CircuitSnapshot snapshot) =>
        snapshot.IsIsolated ? null : ExpiresAtUnixSeconds(snapshot.StateTimestampUnixMs, Math.Max(snapshot.NextAttemptUnixMs, snapshot.ProbeLeaseExpiresUnixMs));

    /// <summary>
    /// The expiry of an item written at <paramref name="nowUnixMs"/> that holds nothing live after <paramref name="liveUntilUnixMs"/>;
    /// <see langword="null"/> when the expiry is off.
    /// </summary>
    public long? ExpiresAtUnixSeconds(long nowUnixMs, long liveUntilUnixMs)
    {
        if (TimeToLive is not { } timeToLive)
        {
            return null;
        }

        var expiresMs = Math.Max(nowUnixMs, liveUntilUnixMs) + (long)timeToLive.TotalMilliseconds;

        // Rounded up: an item never expires before the rule's time.
        return (expiresMs + 999) / 1000;
    }
}
