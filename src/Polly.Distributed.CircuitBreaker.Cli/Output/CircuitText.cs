using Polly.CircuitBreaker;
using Polly.Distributed.CircuitBreaker.Cli.Stores;

namespace Polly.Distributed.CircuitBreaker.Cli.Output;

/// <summary>The pieces of a circuit people read in tables, in show and in watch lines.</summary>
internal static class CircuitText
{
    public const string Malformed = "MALFORMED";

    // Lease owners are 32 hex digits: the first 8 tell two leases apart in a table; show prints them whole.
    private const int ShortOwnerLength = 8;

    // The longest label of show, "consecutive opens".
    private const int LabelWidth = 17;

    /// <summary>Returns the state in capitals, or MALFORMED for an item breakers could not read.</summary>
    public static string State(StoredCircuit entry) =>
        entry.MalformedReason is not null ? Malformed : CircuitStateNames.Shown(entry.Snapshot.ToCircuitState());

    /// <summary>Returns when an open circuit lets a probe through; "-" for other states, whose nextAttempt means nothing now.</summary>
    public static string NextAttempt(CircuitSnapshot snapshot, TimeProvider clock, bool withDate = false) => snapshot.ToCircuitState() switch
    {
        CircuitState.Isolated => "until closed manually",
        CircuitState.Open => TimeText.Moment(snapshot.NextAttemptUnixMs, clock, withDate),
        _ => "-",
    };

    /// <summary>Returns the probe lease as a table shows it: short owner and expiry, or "-".</summary>
    public static string ShortLease(CircuitSnapshot snapshot, TimeProvider clock) =>
        snapshot.ProbeLeaseOwner is { } owner
            ? $"{(owner.Length > ShortOwnerLength ? owner[..ShortOwnerLength] + ".." : owner)} until {TimeText.Moment(snapshot.ProbeLeaseExpiresUnixMs, clock)}"
            : "-";

    /// <summary>Returns the probe lease in full, with whether it still blocks other probes.</summary>
    public static string Lease(CircuitSnapshot snapshot, TimeProvider clock)
    {
        if (snapshot.ProbeLeaseOwner is not { } owner)
        {
            return "none";
        }

        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var standing = snapshot.State != StoredCircuitState.HalfOpen || snapshot.ProbeLeaseEpisode != snapshot.NextAttemptUnixMs
            ? "left from an earlier episode: blocks no probe"
            : snapshot.ProbeLeaseExpiresUnixMs <= now ? "expired" : "held";
        return $"{owner}, expires {TimeText.Moment(snapshot.ProbeLeaseExpiresUnixMs, clock, withDate: true)}, episode {snapshot.ProbeLeaseEpisode} ({standing})";
    }

    /// <summary>Returns when the item expires, or "-" when it never does (an isolated circuit, a store without an item expiry).</summary>
    public static string Expiry(CircuitItem item, TimeProvider clock, bool withDate = false) =>
        item.ExpiresAtUnixMs is { } expiresAt ? TimeText.Moment(expiresAt, clock, withDate) : "-";

    /// <summary>Writes the table of <c>list</c>.</summary>
    public static void WriteTable(TextWriter output, IReadOnlyList<CircuitItem> items, TimeProvider clock)
    {
        var table = new TextTable(("ID", false), ("STATE", false), ("FAILURES", true), ("NEXT ATTEMPT", false), ("PROBE LEASE", false), ("LAST CHANGE", false), ("EXPIRES", false));
        foreach (var item in items)
        {
            var snapshot = item.Entry.Snapshot;
            if (item.Entry.MalformedReason is not null)
            {
                // Its numbers could not be read: zeros would look like facts.
                table.AddRow(item.Id, Malformed, "-", "-", "-", "-", Expiry(item, clock));
                continue;
            }

            table.AddRow(
                item.Id,
                State(item.Entry),
                snapshot.FailureCount.ToString(System.Globalization.CultureInfo.InvariantCulture),
                NextAttempt(snapshot, clock),
                ShortLease(snapshot, clock),
                TimeText.Moment(snapshot.StateTimestampUnixMs, clock),
                Expiry(item, clock));
        }

        table.WriteTo(output);
    }

    /// <summary>Writes the whole item for <c>show</c>.</summary>
    public static void WriteItem(TextWriter output, CircuitItem item, string location, TimeProvider clock)
    {
        var lines = new List<(string Label, string Value)>
        {
            ("circuit", item.Id),
            ("store", location),
        };

        var snapshot = item.Entry.Snapshot;
        if (item.Entry.MalformedReason is { } reason)
        {
            lines.Add(("state", $"{Malformed}: {reason}"));
            lines.Add((string.Empty, "breakers read it as CLOSED, and their next write replaces it"));
        }
        else
        {
            var lastFailure = snapshot.LastFailureUnixMs > 0 ? $" (last failure {TimeText.Moment(snapshot.LastFailureUnixMs, clock, withDate: true)})" : string.Empty;
            lines.Add(("state", CircuitStateNames.Shown(snapshot.ToCircuitState())));
            lines.Add(("failure count", snapshot.FailureCount + lastFailure));
            lines.Add(("success count", snapshot.SuccessCount.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            lines.Add(("next attempt", NextAttempt(snapshot, clock, withDate: true)));
            lines.Add(("consecutive opens", snapshot.ConsecutiveOpens.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            lines.Add(("last change", TimeText.Moment(snapshot.StateTimestampUnixMs, clock, withDate: true)));
            lines.Add(("schema version", snapshot.SchemaVersion.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            lines.Add(("probe lease", Lease(snapshot, clock)));
            if (snapshot.OpenedBy is not null || snapshot.OpenedReason is not null)
            {
                lines.Add(("last opened by", $"{snapshot.OpenedBy ?? "?"} ({snapshot.OpenedReason ?? "cause unknown"})"));
            }

            if (snapshot.FailingEnvironments.Count > 0)
            {
                lines.Add(("failing environments", snapshot.FailingEnvironments.ToString()));
            }
        }

        lines.Add(("expires", item.ExpiresAtUnixMs is null ? "never" : Expiry(item, clock, withDate: true)));
        if (item.RecentWriteIdCount is { } count)
        {
            lines.Add(("recent write ids", count.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }

        // A malformed item is shown as stored, every attribute; a readable one adds the attributes others wrote.
        var raw = item.Entry.MalformedReason is not null ? item.Attributes : item.OtherAttributes;
        var heading = item.Entry.MalformedReason is not null ? "stored attributes" : "other attributes";
        if (raw.Count == 0)
        {
            lines.Add((heading, "none"));
        }

        // One width for every item, malformed or not, so that two outputs line up.
        var width = Math.Max(LabelWidth, lines.Max(l => l.Label.Length));
        foreach (var (label, value) in lines)
        {
            output.WriteLine((label.PadRight(width) + "  " + value).TrimEnd());
        }

        if (raw.Count > 0)
        {
            output.WriteLine(heading);
            var nameWidth = raw.Max(a => a.Name.Length);
            foreach (var attribute in raw)
            {
                output.WriteLine($"  {attribute.Name.PadRight(nameWidth)}  {attribute.Text}");
            }
        }
    }

    /// <summary>Returns a watch line's text after its time: state and what goes with it.</summary>
    public static string WatchLine(StoredCircuit entry, TimeProvider clock)
    {
        if (!entry.Exists)
        {
            return "no item: the circuit was removed";
        }

        if (entry.MalformedReason is { } reason)
        {
            return $"{Malformed}  {reason}";
        }

        var snapshot = entry.Snapshot;
        var parts = new List<string> { CircuitStateNames.Shown(snapshot.ToCircuitState()), $"failures {snapshot.FailureCount}" };
        if (snapshot.ToCircuitState() is CircuitState.Open or CircuitState.Isolated)
        {
            parts.Add("next attempt " + NextAttempt(snapshot, clock));
        }

        if (snapshot.ProbeLeaseOwner is not null)
        {
            parts.Add("probe lease " + ShortLease(snapshot, clock));
        }

        return string.Join("  ", parts);
    }
}
