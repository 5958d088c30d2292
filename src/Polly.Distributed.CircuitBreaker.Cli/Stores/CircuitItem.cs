namespace Polly.Distributed.CircuitBreaker.Cli.Stores;

/// <summary>
/// One circuit as stored: the state as every breaker reads it (through the store's own parser, so a malformed item is flagged
/// exactly as breakers flag it) and every attribute of the item, raw.
/// </summary>
/// <param name="Id">The circuit id.</param>
/// <param name="Entry">The parsed state; <see cref="StoredCircuit.MalformedReason"/> says why an item could not be read.</param>
/// <param name="Attributes">Every attribute but the key, unparsed: the shared schema's first, in schema order, then the others by name.</param>
/// <param name="OtherAttributes">The attributes that are neither the shared schema's nor the store's own bookkeeping, written by others.</param>
/// <param name="RecentWriteIdCount">How many write ids the DynamoDB store keeps in the item (<c>recentWriteIds</c>); <see langword="null"/> on stores that keep none.</param>
/// <param name="ExpiresAtUnixMs">When the item expires (DynamoDB's time-to-live attribute, a Redis key's expiry), epoch milliseconds; <see langword="null"/> when it never does.</param>
internal sealed record CircuitItem(
    string Id,
    StoredCircuit Entry,
    IReadOnlyList<StoredAttribute> Attributes,
    IReadOnlyList<StoredAttribute> OtherAttributes,
    int? RecentWriteIdCount,
    long? ExpiresAtUnixMs)
{
    /// <summary>Orders attribute names: the shared schema's in schema order, then the rest by ordinal name.</summary>
    public static IEnumerable<T> InSchemaOrder<T>(IEnumerable<T> attributes, Func<T, string> nameOf) =>
        attributes
            .OrderBy(a => SchemaPosition(nameOf(a)))
            .ThenBy(a => nameOf(a), StringComparer.Ordinal);

    private static int SchemaPosition(string name)
    {
        for (var i = 0; i < CircuitSnapshotSchema.OwnedAttributes.Count; i++)
        {
            if (CircuitSnapshotSchema.OwnedAttributes[i] == name)
            {
                return i;
            }
        }

        return int.MaxValue;
    }
}
