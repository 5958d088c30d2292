using System.Globalization;
using Amazon.DynamoDBv2.Model;

namespace Polly.Distributed.CircuitBreaker.DynamoDb.Internal;

/// <summary>
/// Maps between <see cref="CircuitSnapshot"/> and DynamoDB attribute values, and builds the update and condition expressions.
/// </summary>
internal static class DynamoDbCircuitItem
{
    /// <summary>
    /// This store's own attribute (string set): the ids of the conditional writes applied since the circuit last changed state,
    /// so that a request the SDK retries after its response was lost is recognised as already applied. Every state write clears it.
    /// </summary>
    public const string RecentWriteIdsAttribute = "recentWriteIds";

    /// <summary>Up to which failure count write ids are kept (they are cleared at every state change): more than a failure threshold usually is.</summary>
    public const int MaxRecentWriteIds = 64;

    private static readonly string[] StringAttributes =
    [
        CircuitSnapshotSchema.CircuitStateAttribute,
        CircuitSnapshotSchema.ProbeLeaseOwnerAttribute,
        CircuitSnapshotSchema.OpenedByAttribute,
        CircuitSnapshotSchema.OpenedReasonAttribute,
    ];

    private static readonly string[] LeaseNumbers = [CircuitSnapshotSchema.ProbeLeaseExpiresAttribute, CircuitSnapshotSchema.ProbeLeaseEpisodeAttribute];

    public static Dictionary<string, AttributeValue> Key(string circuitId) => new()
    {
        [CircuitSnapshotSchema.IdAttribute] = new AttributeValue { S = circuitId },
    };

    public static StoredCircuit ToEntry(Dictionary<string, AttributeValue>? item)
    {
        // An item exists when its key does, even if it holds none of the circuit attributes (only others').
        if (item is null || !item.ContainsKey(CircuitSnapshotSchema.IdAttribute))
        {
            return new StoredCircuit(CircuitSnapshot.Initial, false, new DynamoDbItemVersion(null));
        }

        var owned = new Dictionary<string, AttributeValue>(StringComparer.Ordinal);
        foreach (var name in CircuitSnapshotSchema.OwnedAttributes)
        {
            if (item.TryGetValue(name, out var value))
            {
                owned[name] = value;
            }
        }

        // The claim condition compares the lease's expiry and episode as numbers: one of another type is no lease.
        var environments = item.TryGetValue(CircuitSnapshotSchema.FailingEnvironmentsAttribute, out var set) && set.SS is { Count: > 0 } ids
            ? string.Join(' ', ids)
            : null;
        var snapshot = CircuitSnapshotSchema.Parse(
            name => name == CircuitSnapshotSchema.FailingEnvironmentsAttribute ? environments
                : owned.TryGetValue(name, out var value) && !(LeaseNumbers.Contains(name) && value.N is null) ? TextOf(value) : null,
            out var malformedReason);
        return new StoredCircuit(snapshot, true, new DynamoDbItemVersion(owned), malformedReason);
    }

    /// <summary>The entry that a successful write of <paramref name="snapshot"/> leaves behind.</summary>
    public static StoredCircuit Written(CircuitSnapshot snapshot)
    {
        var owned = ToAttributes(snapshot);
        return new StoredCircuit(snapshot, true, new DynamoDbItemVersion(owned));
    }

    public static Dictionary<string, AttributeValue> ToAttributes(CircuitSnapshot snapshot) =>
        CircuitSnapshotSchema.Format(snapshot).ToDictionary(
            pair => pair.Key,
            pair => StringAttributes.Contains(pair.Key) ? new AttributeValue { S = pair.Value } : new AttributeValue { N = pair.Value },
            StringComparer.Ordinal);

    /// <summary>
    /// Builds <c>SET</c> of every written attribute and its expiry, and <c>REMOVE</c> of lease attributes that are not written
    /// and, for an isolation, of the expiry.
    /// </summary>
    public static void SetUpdate(UpdateItemRequest request, CircuitSnapshot snapshot, DynamoDbItemExpiry expiry)
    {
        var attributes = ToAttributes(snapshot);
        var set = new List<string>();
        foreach (var (name, value) in attributes)
        {
            set.Add($"{NameOf(request, name)} = {ValueOf(request, value)}");
        }

        var remove = CircuitSnapshotSchema.LeaseAttributes.Where(name => !attributes.ContainsKey(name)).Append(RecentWriteIdsAttribute).Select(name => NameOf(request, name)).ToList();
        if (snapshot.IsIsolated)
        {
            remove.Add(ExpiryName(request, expiry));
        }

        request.UpdateExpression = "SET " + string.Join(", ", set) + ExpiryAssignment(request, expiry, expiry.ExpiresAtUnixSeconds(snapshot)) +
            " REMOVE " + string.Join(", ", remove);
    }

    /// <summary>Builds the condition of a last-writer-wins write: the stored state is not newer than the one written.</summary>
    public static void SetNotNewerCondition(UpdateItemRequest request, long stateTimestampUnixMs)
    {
        var timestamp = NameOf(request, CircuitSnapshotSchema.StateTimestampAttribute);
        request.ConditionExpression = $"attribute_not_exists({timestamp}) OR NOT {timestamp} > {ValueOf(request, Number(stateTimestampUnixMs))}";
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

    /// <summary>
    /// Builds the probe claim: take the lease if the circuit is half-open and holds no valid lease (an owner, an expiry after
    /// <paramref name="nowUnixMs"/>, and an episode equal to the stored <c>nextAttempt</c>). A comparison with a value of
    /// another type is false in DynamoDB, so an expiry or episode of the wrong type reads as no lease, as the parser reads it.
    /// </summary>
    public static void SetProbeClaim(UpdateItemRequest request, string owner, long leaseExpiresUnixMs, long nowUnixMs, DynamoDbItemExpiry expiry)
    {
        var ownerName = NameOf(request, CircuitSnapshotSchema.ProbeLeaseOwnerAttribute);
        var expiresName = NameOf(request, CircuitSnapshotSchema.ProbeLeaseExpiresAttribute);
        var episodeName = NameOf(request, CircuitSnapshotSchema.ProbeLeaseEpisodeAttribute);
        var nextAttemptName = NameOf(request, CircuitSnapshotSchema.NextAttemptAttribute);
        var stateName = NameOf(request, CircuitSnapshotSchema.CircuitStateAttribute);
        var now = ValueOf(request, Number(nowUnixMs));

        request.UpdateExpression =
            $"SET {ownerName} = {ValueOf(request, new AttributeValue { S = owner })}, {expiresName} = {ValueOf(request, Number(leaseExpiresUnixMs))}, " +
            $"{episodeName} = if_not_exists({nextAttemptName}, {ValueOf(request, Number(0))}), {nextAttemptName} = if_not_exists({nextAttemptName}, {ValueOf(request, Number(0))}), " +
            $"{NameOf(request, CircuitSnapshotSchema.StateTimestampAttribute)} = {now}" +
            ExpiryAssignment(request, expiry, expiry.ExpiresAtUnixSeconds(nowUnixMs, leaseExpiresUnixMs));
        request.ConditionExpression =
            $"{stateName} IN ({ValueOf(request, new AttributeValue { S = CircuitSnapshotSchema.HalfOpenText })}, {ValueOf(request, new AttributeValue { S = CircuitSnapshotSchema.LegacyHalfOpenText })}) " +
            $"AND (attribute_not_exists({ownerName}) OR NOT {expiresName} > {now} OR NOT {episodeName} = {nextAttemptName})";
    }

    /// <summary>
    /// Builds the failure count within the window: <c>ADD</c> the request's count to a valid count of a closed circuit whose last failure
    /// is still in the window. While the count is below <see cref="MaxRecentWriteIds"/>, the request's id is added, so a
    /// retry of an applied request is recognised; past that (a threshold above it, or an opening that is late) the count is
    /// added without it, so items stay small. Without a quorum, only a count below the threshold is added to (see
    /// <see cref="CountsPastThreshold"/>). (Conditions stay flat: the local emulator's parser slows down sharply with
    /// nested groups, and <c>size()</c> costs it as much again.)
    /// </summary>
    public static void SetFailureIncrement(UpdateItemRequest request, CircuitFailureIncrement increment, string writeId, FailureCountVariant variant, DynamoDbItemExpiry expiry)
    {
        var count = NameOf(request, CircuitSnapshotSchema.FailureCountAttribute);
        var lastFailure = NameOf(request, CircuitSnapshotSchema.LastFailureTimeAttribute);
        var writeIds = NameOf(request, RecentWriteIdsAttribute);
        var now = ValueOf(request, Number(increment.NowUnixMs));
        var zero = ValueOf(request, Number(0));
        var quorum = increment.MinimumEnvironments > 1;

        // With a quorum, a stored count of 0 (a circuit closed since, by anyone) starts an episode with an empty set
        // (SetFailureCountRestart); a missing count is a new item, whose set the ADD creates.
        // Without a quorum, a count that reached the threshold counts nothing more: the request that reached it opens the
        // circuit, and until its opening lands the item shows the count, which the breaker reads as that OPEN. On an item
        // whose requests queue (one hot item), later counts would otherwise each find the count at the threshold and send
        // an opening of their own.
        var below = quorum ? long.MaxValue : increment.FailureThreshold;
        var countRange = variant.IdsFull
            ? (below == long.MaxValue ? $"{count} >= {ValueOf(request, Number(MaxRecentWriteIds))}" : $"{count} BETWEEN {ValueOf(request, Number(MaxRecentWriteIds))} AND {ValueOf(request, Number(below - 1))}")
            : $"(attribute_not_exists({count}) OR {count} BETWEEN {(quorum ? ValueOf(request, Number(1)) : zero)} AND {ValueOf(request, Number(Math.Min(below, MaxRecentWriteIds) - 1))})";
        request.UpdateExpression =
            $"ADD {count} {ValueOf(request, Number(increment.Count))}{(variant.IdsFull ? string.Empty : $", {writeIds} {ValueOf(request, new AttributeValue { SS = [writeId] })}")}" +
            (quorum && variant.AddsEnvironment ? $", {NameOf(request, CircuitSnapshotSchema.FailingEnvironmentsAttribute)} {ValueOf(request, new AttributeValue { SS = [increment.EnvironmentId!] })}" : string.Empty) +
            $" SET {lastFailure} = {now}, {NameOf(request, CircuitSnapshotSchema.StateTimestampAttribute)} = {now}, {NewItemDefaults(request)}" +
            ExpiryAssignment(request, expiry, expiry.ExpiresAtUnixSeconds(increment.NowUnixMs, increment.NowUnixMs));
        request.ConditionExpression =
            $"{ClosedCondition(request)} AND {countRange} " +
            (variant.IdsFull ? string.Empty : $"AND {InTheEpisode(request, increment, zero)} ") +
            $"AND (attribute_not_exists({lastFailure}) OR {lastFailure} = {zero} OR {lastFailure} >= {ValueOf(request, Number(increment.WindowStartUnixMs))}) " +
            $"AND NOT contains({writeIds}, {ValueOf(request, new AttributeValue { S = writeId })})" +
            (quorum && increment.EnvironmentId is not null ? " AND " + EnvironmentRoomCondition(request, increment, variant.AddsEnvironment) : string.Empty);
    }

    /// <summary>
    /// Whether a count request can apply to an item whose count reached <see cref="MaxRecentWriteIds"/>: only with a quorum
    /// or a threshold above it, as a count stops at the threshold otherwise.
    /// </summary>
    public static bool CountsPastThreshold(CircuitFailureIncrement increment) =>
        increment.MinimumEnvironments > 1 || increment.FailureThreshold > MaxRecentWriteIds;

    /// <summary>Which count request fits an item as last seen (<see langword="null"/>: not seen yet, or missing).</summary>
    public static FailureCountVariant FailureCountVariantFor(Dictionary<string, AttributeValue>? item, bool seen, CircuitFailureIncrement increment)
    {
        if (increment.MinimumEnvironments <= 1)
        {
            return new(FailureWindowEnded(item, increment.WindowStartUnixMs), RecentWriteIdsFull(item), AddsEnvironment: false);
        }

        var startsEpisode = seen && item is not null && (NumberOf(item, CircuitSnapshotSchema.FailureCountAttribute) is 0 || FailureWindowEnded(item, increment.WindowStartUnixMs));
        var held = item is not null && item.TryGetValue(CircuitSnapshotSchema.FailingEnvironmentsAttribute, out var set) && set.SS is { } ids ? ids : null;
        var addsEnvironment = increment.EnvironmentId is { } id && (held is null || held.Count < increment.MinimumEnvironments || held.Contains(id));
        return new(startsEpisode, RecentWriteIdsFull(item), addsEnvironment);
    }

    // The set holds at most the quorum: an id is added only while there is room (or it is there already).
    private static string EnvironmentRoomCondition(UpdateItemRequest request, CircuitFailureIncrement increment, bool addsEnvironment)
    {
        var environments = NameOf(request, CircuitSnapshotSchema.FailingEnvironmentsAttribute);
        var minimum = ValueOf(request, Number(increment.MinimumEnvironments));
        return addsEnvironment
            ? $"(attribute_not_exists({environments}) OR size({environments}) < {minimum} OR contains({environments}, {ValueOf(request, new AttributeValue { S = increment.EnvironmentId! })}))"
            : $"size({environments}) >= {minimum}";
    }

    /// <summary>Whether a stored item's failure count reached <see cref="MaxRecentWriteIds"/>, so the next count is added without its id.</summary>
    public static bool RecentWriteIdsFull(Dictionary<string, AttributeValue>? item) =>
        item is not null
        && item.TryGetValue(CircuitSnapshotSchema.FailureCountAttribute, out var count)
        && decimal.TryParse(count.N, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var value)
        && value >= MaxRecentWriteIds;

    /// <summary>The id this store records for a request: short, to keep items small (the breaker's ids are random hex).</summary>
    public static string ShortWriteId(string writeId) => writeId.Length <= 16 ? writeId : writeId[..16];

    /// <summary>
    /// Builds the first failures of a new counting episode: the request's count replaces the stored one on a closed circuit
    /// whose last failure is before the window. With a quorum, also on a closed circuit whose count is 0 (never counted, or
    /// closed since, by anyone), and the episode's failing environments become the request's own.
    /// </summary>
    public static void SetFailureCountRestart(UpdateItemRequest request, CircuitFailureIncrement increment, string writeId, DynamoDbItemExpiry expiry)
    {
        var count = NameOf(request, CircuitSnapshotSchema.FailureCountAttribute);
        var lastFailure = NameOf(request, CircuitSnapshotSchema.LastFailureTimeAttribute);
        var now = ValueOf(request, Number(increment.NowUnixMs));
        var zero = ValueOf(request, Number(0));
        var quorum = increment.MinimumEnvironments > 1;
        var environments = quorum ? NameOf(request, CircuitSnapshotSchema.FailingEnvironmentsAttribute) : null;

        request.UpdateExpression =
            $"SET {count} = {ValueOf(request, Number(increment.Count))}, {lastFailure} = {now}, " +
            $"{NameOf(request, CircuitSnapshotSchema.StateTimestampAttribute)} = {now}, " +
            (quorum ? $"{NewItemDefaults(request)}, " : string.Empty) +
            $"{NameOf(request, RecentWriteIdsAttribute)} = {ValueOf(request, new AttributeValue { SS = [writeId] })}" +
            (quorum && increment.EnvironmentId is { } id ? $", {environments} = {ValueOf(request, new AttributeValue { SS = [id] })}" : string.Empty) +
            ExpiryAssignment(request, expiry, expiry.ExpiresAtUnixSeconds(increment.NowUnixMs, increment.NowUnixMs)) +
            (quorum && increment.EnvironmentId is null ? $" REMOVE {environments}" : string.Empty);
        var windowEnded = $"{lastFailure} > {zero} AND {lastFailure} < {ValueOf(request, Number(increment.WindowStartUnixMs))}";
        request.ConditionExpression = quorum
            ? $"{ClosedCondition(request)} AND (attribute_not_exists({count}) OR {count} = {zero} OR ({windowEnded})) AND {InTheEpisode(request, increment, zero)}"
            : $"{ClosedCondition(request)} AND {windowEnded} AND {InTheEpisode(request, increment, zero)}";
    }

    /// <summary>Builds the opening at the threshold: only a closed circuit whose count reached it opens, so exactly one writer does.</summary>
    public static void SetOpenAtThreshold(UpdateItemRequest request, CircuitFailureIncrement increment, string openWriteId, DynamoDbItemExpiry expiry)
    {
        var count = NameOf(request, CircuitSnapshotSchema.FailureCountAttribute);
        request.UpdateExpression = $"SET {OpeningAssignments(request, increment, openWriteId, expiry)} {RemoveLease(request)}";
        request.ConditionExpression = $"{ClosedCondition(request)} AND {count} >= {ValueOf(request, Number(increment.FailureThreshold))}";
        if (increment.MinimumEnvironments > 1)
        {
            // The quorum is met, and the opening starts a new episode: the set goes with it.
            var environments = NameOf(request, CircuitSnapshotSchema.FailingEnvironmentsAttribute);
            request.UpdateExpression += $", {environments}";
            request.ConditionExpression += $" AND size({environments}) >= {ValueOf(request, Number(increment.MinimumEnvironments))}";
        }
    }

    /// <summary>
    /// Builds the count that reaches the threshold and the opening as one request, for a caller whose hint says the count
    /// is <paramref name="expectedCount"/>: it applies only to a closed circuit in the window holding exactly that count, so
    /// exactly one writer opens, and a stale hint only costs the request (the caller then counts the usual way).
    /// </summary>
    public static void SetCountAndOpen(UpdateItemRequest request, CircuitFailureIncrement increment, long expectedCount, string openWriteId, DynamoDbItemExpiry expiry)
    {
        var count = NameOf(request, CircuitSnapshotSchema.FailureCountAttribute);
        var lastFailure = NameOf(request, CircuitSnapshotSchema.LastFailureTimeAttribute);
        var version = NameOf(request, CircuitSnapshotSchema.SchemaVersionAttribute);
        var now = ValueOf(request, Number(increment.NowUnixMs));
        var zero = ValueOf(request, Number(0));
        var expected = ValueOf(request, Number(expectedCount));

        request.UpdateExpression =
            $"SET {OpeningAssignments(request, increment, openWriteId, expiry)}, " +
            $"{count} = {ValueOf(request, Number(expectedCount + increment.Count))}, {lastFailure} = {now}, " +
            $"{version} = if_not_exists({version}, {ValueOf(request, Number(CircuitSnapshot.CurrentSchemaVersion))}) " +
            RemoveLease(request);
        request.ConditionExpression =
            $"{ClosedCondition(request)} " +
            (expectedCount == 0 ? $"AND (attribute_not_exists({count}) OR {count} = {expected}) AND {InTheEpisode(request, increment, zero)} " : $"AND {count} = {expected} ") +
            $"AND (attribute_not_exists({lastFailure}) OR {lastFailure} = {zero} OR {lastFailure} >= {ValueOf(request, Number(increment.WindowStartUnixMs))})";
    }

    /// <summary>Whether <paramref name="item"/> records the write <paramref name="writeId"/>: a retried request that was applied before.</summary>
    public static bool Recorded(Dictionary<string, AttributeValue>? item, string writeId) =>
        item is not null && item.TryGetValue(RecentWriteIdsAttribute, out var ids) && ids.SS is { } set && set.Contains(writeId);

    /// <summary>Whether a stored item is closed with a last failure before the window, as the window restart's condition reads it.</summary>
    public static bool FailureWindowEnded(Dictionary<string, AttributeValue>? item, long windowStartUnixMs) =>
        item is not null
        && (!item.TryGetValue(CircuitSnapshotSchema.CircuitStateAttribute, out var state) || state.S == CircuitSnapshotSchema.ClosedText)
        && NumberOf(item, CircuitSnapshotSchema.LastFailureTimeAttribute) is > 0 and var lastFailure
        && lastFailure < windowStartUnixMs;

    // A number attribute as the conditions compare it, or null when it is missing or of another type.
    private static decimal? NumberOf(Dictionary<string, AttributeValue>? item, string name) =>
        item is not null
        && item.TryGetValue(name, out var value)
        && decimal.TryParse(value.N, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var number)
            ? number
            : null;

    // The Node library reads an item without circuitState or schemaVersion differently from the shared defaults: create them.
    // What opening at the threshold sets, in either request that opens: state first, so the expression starts "SET #circuitState".
    private static string OpeningAssignments(UpdateItemRequest request, CircuitFailureIncrement increment, string openWriteId, DynamoDbItemExpiry expiry)
    {
        var zero = ValueOf(request, Number(0));
        return $"{NameOf(request, CircuitSnapshotSchema.CircuitStateAttribute)} = {ValueOf(request, new AttributeValue { S = CircuitSnapshotSchema.OpenText })}, " +
            $"{NameOf(request, CircuitSnapshotSchema.SuccessCountAttribute)} = {zero}, " +
            $"{NameOf(request, CircuitSnapshotSchema.ConsecutiveOpensAttribute)} = {zero}, " +
            $"{NameOf(request, CircuitSnapshotSchema.NextAttemptAttribute)} = {ValueOf(request, Number(increment.OpenUntilUnixMs))}, " +
            $"{NameOf(request, CircuitSnapshotSchema.StateTimestampAttribute)} = {ValueOf(request, Number(increment.NowUnixMs))}, " +
            $"{NameOf(request, RecentWriteIdsAttribute)} = {ValueOf(request, new AttributeValue { SS = [openWriteId] })}" +
            (increment.OpenedBy is { } openedBy ? $", {NameOf(request, CircuitSnapshotSchema.OpenedByAttribute)} = {ValueOf(request, new AttributeValue { S = openedBy })}" : string.Empty) +
            (increment.OpenedReason is { } reason ? $", {NameOf(request, CircuitSnapshotSchema.OpenedReasonAttribute)} = {ValueOf(request, new AttributeValue { S = reason })}" : string.Empty) +
            ExpiryAssignment(request, expiry, expiry.ExpiresAtUnixSeconds(increment.NowUnixMs, increment.OpenUntilUnixMs));
    }

    // The expiry as the last assignment of a SET list, or nothing when the item gets none.
    private static string ExpiryAssignment(UpdateItemRequest request, DynamoDbItemExpiry expiry, long? expiresAtUnixSeconds) =>
        expiresAtUnixSeconds is { } seconds ? $", {ExpiryName(request, expiry)} = {ValueOf(request, Number(seconds))}" : string.Empty;

    private static string ExpiryName(UpdateItemRequest request, DynamoDbItemExpiry expiry)
    {
        request.ExpressionAttributeNames ??= new Dictionary<string, string>(StringComparer.Ordinal);
        request.ExpressionAttributeNames[DynamoDbItemExpiry.Placeholder] = expiry.AttributeName;
        return DynamoDbItemExpiry.Placeholder;
    }

    private static string RemoveLease(UpdateItemRequest request) =>
        $"REMOVE {string.Join(", ", CircuitSnapshotSchema.LeaseAttributes.Select(name => NameOf(request, name)))}";

    private static string NewItemDefaults(UpdateItemRequest request)
    {
        var state = NameOf(request, CircuitSnapshotSchema.CircuitStateAttribute);
        var version = NameOf(request, CircuitSnapshotSchema.SchemaVersionAttribute);
        return $"{state} = if_not_exists({state}, {ValueOf(request, new AttributeValue { S = CircuitSnapshotSchema.ClosedText })}), " +
            $"{version} = if_not_exists({version}, {ValueOf(request, Number(CircuitSnapshot.CurrentSchemaVersion))})";
    }

    private static string ClosedCondition(UpdateItemRequest request)
    {
        var state = NameOf(request, CircuitSnapshotSchema.CircuitStateAttribute);
        return $"(attribute_not_exists({state}) OR {state} = {ValueOf(request, new AttributeValue { S = CircuitSnapshotSchema.ClosedText })})";
    }

    private static AttributeValue Number(long value) => new() { N = value.ToString(CultureInfo.InvariantCulture) };

    // An attribute of another type (BOOL, NULL, a set) exists, as the conditions see it, but holds no valid text.
    private static string TextOf(AttributeValue value) => value.S ?? value.N ?? string.Empty;

    // Failures from before a closed circuit's last change of state, with nothing counted since, count nothing
    // (CircuitFailureIncrement.PredatesTheEpisode). A missing count or state timestamp compares false: the condition holds.
    private static string InTheEpisode(UpdateItemRequest request, CircuitFailureIncrement increment, string zero) =>
        $"NOT ({NameOf(request, CircuitSnapshotSchema.FailureCountAttribute)} = {zero} " +
        $"AND {NameOf(request, CircuitSnapshotSchema.StateTimestampAttribute)} > {ValueOf(request, Number(increment.NowUnixMs))})";

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
