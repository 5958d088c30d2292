using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Polly.Distributed.CircuitBreaker.Cli.Stores;

namespace Polly.Distributed.CircuitBreaker.Cli.Output;

/// <summary>
/// The JSON scripts read. Property names are stable and every property is always written (null when it does not apply): the
/// schema's attribute names for stored numbers (epoch milliseconds), an ISO 8601 UTC twin for each time, and <c>state</c> in the
/// words <c>--if-state</c> takes.
/// </summary>
internal static class CircuitJson
{
    /// <summary>Writes a value produced by <paramref name="write"/> as one JSON text: indented, or on one line for streams such as watch.</summary>
    public static void WriteTo(TextWriter output, bool indented, Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = indented, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            write(writer);
        }

        output.WriteLine(Encoding.UTF8.GetString(buffer.WrittenSpan));
    }

    /// <summary>Writes one circuit's state as breakers read it.</summary>
    public static void WriteCircuit(Utf8JsonWriter writer, string circuitId, StoredCircuit entry)
    {
        writer.WriteStartObject();
        WriteCircuitProperties(writer, circuitId, entry);
        writer.WriteEndObject();
    }

    /// <summary>Writes one listed circuit: its state as breakers read it, and when its item expires.</summary>
    public static void WriteListed(Utf8JsonWriter writer, CircuitItem item)
    {
        writer.WriteStartObject();
        WriteCircuitProperties(writer, item.Id, item.Entry);
        WriteExpiry(writer, item);
        writer.WriteEndObject();
    }

    /// <summary>Writes one circuit's whole item: its state, the DynamoDB store's write id count and every attribute unparsed.</summary>
    public static void WriteItem(Utf8JsonWriter writer, CircuitItem item)
    {
        writer.WriteStartObject();
        WriteCircuitProperties(writer, item.Id, item.Entry);
        WriteExpiry(writer, item);
        if (item.RecentWriteIdCount is { } count)
        {
            writer.WriteNumber("recentWriteIds", count);
        }
        else
        {
            writer.WriteNull("recentWriteIds");
        }

        writer.WriteStartObject("attributes");
        foreach (var attribute in item.Attributes)
        {
            writer.WriteString(attribute.Name, attribute.Text);
        }

        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    private static void WriteCircuitProperties(Utf8JsonWriter writer, string circuitId, StoredCircuit entry)
    {
        var snapshot = entry.Snapshot;
        writer.WriteString("id", circuitId);
        writer.WriteString("state", CircuitStateNames.Of(snapshot));
        writer.WriteString("malformed", entry.MalformedReason);
        writer.WriteNumber(CircuitSnapshotSchema.FailureCountAttribute, snapshot.FailureCount);
        writer.WriteNumber(CircuitSnapshotSchema.SuccessCountAttribute, snapshot.SuccessCount);
        WriteTime(writer, CircuitSnapshotSchema.NextAttemptAttribute, snapshot.NextAttemptUnixMs);
        WriteTime(writer, CircuitSnapshotSchema.LastFailureTimeAttribute, snapshot.LastFailureUnixMs);
        writer.WriteNumber(CircuitSnapshotSchema.ConsecutiveOpensAttribute, snapshot.ConsecutiveOpens);
        WriteTime(writer, CircuitSnapshotSchema.StateTimestampAttribute, snapshot.StateTimestampUnixMs);
        writer.WriteNumber(CircuitSnapshotSchema.SchemaVersionAttribute, snapshot.SchemaVersion);
        if (snapshot.ProbeLeaseOwner is { } owner)
        {
            writer.WriteStartObject("probeLease");
            writer.WriteString("owner", owner);
            WriteTime(writer, "expires", snapshot.ProbeLeaseExpiresUnixMs);
            writer.WriteNumber("episode", snapshot.ProbeLeaseEpisode);
            writer.WriteEndObject();
        }
        else
        {
            writer.WriteNull("probeLease");
        }

        writer.WriteString(CircuitSnapshotSchema.OpenedByAttribute, snapshot.OpenedBy);
        writer.WriteString(CircuitSnapshotSchema.OpenedReasonAttribute, snapshot.OpenedReason);
        writer.WriteStartArray(CircuitSnapshotSchema.FailingEnvironmentsAttribute);
        foreach (var environment in snapshot.FailingEnvironments)
        {
            writer.WriteStringValue(environment);
        }

        writer.WriteEndArray();
    }

    // expiresAt whatever the store calls it, null with its twin when the item never expires.
    private static void WriteExpiry(Utf8JsonWriter writer, CircuitItem item)
    {
        if (item.ExpiresAtUnixMs is { } expiresAt)
        {
            WriteTime(writer, "expiresAt", expiresAt);
        }
        else
        {
            writer.WriteNull("expiresAt");
            writer.WriteNull("expiresAtUtc");
        }
    }

    private static void WriteTime(Utf8JsonWriter writer, string name, long unixMs)
    {
        writer.WriteNumber(name, unixMs);
        writer.WriteString(name + "Utc", TimeText.Utc(unixMs));
    }
}
