using Amazon.DynamoDBv2.Model;

namespace Polly.Distributed.CircuitBreaker.DynamoDb.Internal;

/// <summary>
/// Maps between <see cref="CircuitSnapshot"/> and DynamoDB attribute values, and builds the update and condition expressions.
/// </summary>
internal static class DynamoDbCircuitItem
{
    private static readonly string[] StringAttributes = [CircuitSnapshotSchema.CircuitStateAttribute, CircuitSnapshotSchema.ProbeLeaseOwnerAttribute];

    public static Dictionary<string, AttributeValue> Key(string circuitId) => new()
    {
        [CircuitSnapshotSchema.IdAttribute] = new AttributeValue { S = circuitId },
    };

    public static CircuitStateEntry ToEntry(Dictionary<string, AttributeValue>? item)
    {
        // An item exists when its key does, even if it holds none of the circuit attributes (only others').
        if (item is null || !item.ContainsKey(CircuitSnapshotSchema.IdAttribute))
        {
            return new CircuitStateEntry(CircuitSnapshot.Initial, false, new DynamoDbItemVersion(null));
        }

        var owned = new Dictionary<string, AttributeValue>(StringComparer.Ordinal);
        foreach (var name in CircuitSnapshotSchema.OwnedAttributes)
        {
            if (item.TryGetValue(name, out var value))
            {
                owned[name] = value;
            }
        }

        var snapshot = CircuitSnapshotSchema.Parse(name => owned.TryGetValue(name, out var value) ? TextOf(value) : null, out var malformedReason);
        return new CircuitStateEntry(snapshot, true, new DynamoDbItemVersion(owned), malformedReason);
    }

    /// <summary>The entry that a successful write of <paramref name="snapshot"/> leaves behind.</summary>
    public static CircuitStateEntry Written(CircuitSnapshot snapshot)
    {
        var owned = ToAttributes(snapshot);
        return new CircuitStateEntry(snapshot, true, new DynamoDbItemVersion(owned));
    }

    public static Dictionary<string, AttributeValue> ToAttributes(CircuitSnapshot snapshot) =>
        CircuitSnapshotSchema.Format(snapshot).ToDictionary(
            pair => pair.Key,
            pair => StringAttributes.Contains(pair.Key) ? new AttributeValue { S = pair.Value } : new AttributeValue { N = pair.Value },
            StringComparer.Ordinal);

    /// <summary>Builds <c>SET</c> of every written attribute and <c>REMOVE</c> of lease attributes that are not written.</summary>
    public static void SetUpdate(UpdateItemRequest request, CircuitSnapshot snapshot)
    {
        var attributes = ToAttributes(snapshot);
        var set = new List<string>();
        foreach (var (name, value) in attributes)
        {
            set.Add($"{NameOf(request, name)} = {ValueOf(request, value)}");
        }

        var remove = CircuitSnapshotSchema.LeaseAttributes.Where(name => !attributes.ContainsKey(name)).Select(name => NameOf(request, name)).ToList();
        request.UpdateExpression = "SET " + string.Join(", ", set) + (remove.Count > 0 ? " REMOVE " + string.Join(", ", remove) : string.Empty);
    }

    /// <summary>Builds the condition that the owned attributes are exactly as in <paramref name="expected"/>.</summary>
    public static void SetUnchangedCondition(UpdateItemRequest request, DynamoDbItemVersion expected)
    {
        if (expected.OwnedAttributes is null)
        {
            request.ConditionExpression = $"attribute_not_exists({NameOf(request, CircuitSnapshotSchema.IdAttribute)})";
            return;
        }

        var clauses = new List<string> { $"attribute_exists({NameOf(request, CircuitSnapshotSchema.IdAttribute)})" };
        foreach (var name in CircuitSnapshotSchema.OwnedAttributes)
        {
            clauses.Add(expected.OwnedAttributes.TryGetValue(name, out var value)
                ? $"{NameOf(request, name)} = {ValueOf(request, value)}"
                : $"attribute_not_exists({NameOf(request, name)})");
        }

        request.ConditionExpression = string.Join(" AND ", clauses);
    }

    /// <summary>Builds the probe claim: take the lease if the circuit is half-open and no lease is valid at <paramref name="nowUnixMs"/>.</summary>
    public static void SetProbeClaim(UpdateItemRequest request, string owner, long leaseExpiresUnixMs, long nowUnixMs)
    {
        var ownerName = NameOf(request, CircuitSnapshotSchema.ProbeLeaseOwnerAttribute);
        var expiresName = NameOf(request, CircuitSnapshotSchema.ProbeLeaseExpiresAttribute);
        var stateName = NameOf(request, CircuitSnapshotSchema.CircuitStateAttribute);
        var now = ValueOf(request, Number(nowUnixMs));

        request.UpdateExpression =
            $"SET {ownerName} = {ValueOf(request, new AttributeValue { S = owner })}, {expiresName} = {ValueOf(request, Number(leaseExpiresUnixMs))}, " +
            $"{NameOf(request, CircuitSnapshotSchema.StateTimestampAttribute)} = {now}";
        request.ConditionExpression =
            $"{stateName} IN ({ValueOf(request, new AttributeValue { S = CircuitSnapshotSchema.HalfOpenText })}, {ValueOf(request, new AttributeValue { S = CircuitSnapshotSchema.LegacyHalfOpenText })}) " +
            $"AND (attribute_not_exists({ownerName}) OR attribute_not_exists({expiresName}) OR {expiresName} <= {now})";
    }

    private static AttributeValue Number(long value) => new() { N = CircuitSnapshotSchema.FormatNumber(value) };

    private static string? TextOf(AttributeValue value) => value.S ?? value.N ?? (value.NULL == true ? null : string.Empty);

    private static string NameOf(UpdateItemRequest request, string attribute)
    {
        request.ExpressionAttributeNames ??= new Dictionary<string, string>(StringComparer.Ordinal);
        var placeholder = "#" + attribute;
        request.ExpressionAttributeNames[placeholder] = attribute;
        return placeholder;
    }

    private static string ValueOf(UpdateItemRequest request, AttributeValue value)
    {
        request.ExpressionAttributeValues ??= new Dictionary<string, AttributeValue>(StringComparer.Ordinal);
        var placeholder = ":v" + request.ExpressionAttributeValues.Count.ToString(System.Globalization.CultureInfo.InvariantCulture);
        request.ExpressionAttributeValues[placeholder] = value;
        return placeholder;
    }
}
