using System.Globalization;
using System.Text.RegularExpressions;

namespace Polly.Distributed.CircuitBreaker;

/// <summary>
/// The shared item schema: attribute names and the text form of their values, for store implementations.
/// </summary>
/// <remarks>
/// Numbers travel as invariant decimal strings (DynamoDB <c>N</c> values, Redis hash fields). Parsing never throws:
/// a malformed item reads as <see cref="CircuitSnapshot.Initial"/> with a reason, and is replaced by the next write.
/// </remarks>
public static partial class CircuitSnapshotSchema
{
    /// <summary>The partition key attribute (<c>S</c>) holding the circuit id.</summary>
    public const string IdAttribute = "id";

    /// <summary>The circuit state attribute (<c>S</c>).</summary>
    public const string CircuitStateAttribute = "circuitState";

    /// <summary>The failure count attribute (<c>N</c>).</summary>
    public const string FailureCountAttribute = "failureCount";

    /// <summary>The success count attribute (<c>N</c>).</summary>
    public const string SuccessCountAttribute = "successCount";

    /// <summary>The next attempt time attribute (<c>N</c>, epoch milliseconds).</summary>
    public const string NextAttemptAttribute = "nextAttempt";

    /// <summary>The last failure time attribute (<c>N</c>, epoch milliseconds).</summary>
    public const string LastFailureTimeAttribute = "lastFailureTime";

    /// <summary>The consecutive opens attribute (<c>N</c>).</summary>
    public const string ConsecutiveOpensAttribute = "consecutiveOpens";

    /// <summary>The write time attribute (<c>N</c>, epoch milliseconds).</summary>
    public const string StateTimestampAttribute = "stateTimestamp";

    /// <summary>The schema version attribute (<c>N</c>).</summary>
    public const string SchemaVersionAttribute = "schemaVersion";

    /// <summary>The probe lease owner attribute (<c>S</c>), this project's own; optional.</summary>
    public const string ProbeLeaseOwnerAttribute = "probeLeaseOwner";

    /// <summary>The probe lease expiry attribute (<c>N</c>, epoch milliseconds), this project's own; optional.</summary>
    public const string ProbeLeaseExpiresAttribute = "probeLeaseExpires";

    /// <summary>The probe lease episode attribute (<c>N</c>, the <c>nextAttempt</c> of the episode), this project's own; optional.</summary>
    public const string ProbeLeaseEpisodeAttribute = "probeLeaseEpisode";

    /// <summary>
    /// The failing environments attribute, this project's own and optional: a string set in DynamoDB, ids separated by
    /// spaces in Redis. Only failure counts write it; it is not among <see cref="OwnedAttributes"/>.
    /// </summary>
    public const string FailingEnvironmentsAttribute = "failingEnvironments";

    /// <summary>The attribute (<c>S</c>) naming the environment that last opened the circuit, this project's own; optional.</summary>
    public const string OpenedByAttribute = "openedBy";

    /// <summary>
    /// The attribute (<c>S</c>) saying what tipped the last opening, this project's own and optional: an exception type name or
    /// an HTTP status (<c>HTTP 503</c>), never message text.
    /// </summary>
    public const string OpenedReasonAttribute = "openedReason";

    /// <summary>The stored text of <see cref="StoredCircuitState.Closed"/>.</summary>
    public const string ClosedText = "CLOSED";

    /// <summary>The stored text of <see cref="StoredCircuitState.Open"/>.</summary>
    public const string OpenText = "OPEN";

    /// <summary>The stored text of <see cref="StoredCircuitState.HalfOpen"/>.</summary>
    public const string HalfOpenText = "HALF-OPEN";

    /// <summary>The legacy stored text of <see cref="StoredCircuitState.HalfOpen"/>, read but never written.</summary>
    public const string LegacyHalfOpenText = "HALF";

    /// <summary>Gets the numeric attributes in schema order.</summary>
    public static IReadOnlyList<string> NumericAttributes { get; } =
    [
        FailureCountAttribute,
        SuccessCountAttribute,
        NextAttemptAttribute,
        LastFailureTimeAttribute,
        ConsecutiveOpensAttribute,
        StateTimestampAttribute,
        SchemaVersionAttribute,
        ProbeLeaseExpiresAttribute,
        ProbeLeaseEpisodeAttribute,
    ];

    /// <summary>Gets every attribute this project owns and writes, apart from <see cref="IdAttribute"/>.</summary>
    public static IReadOnlyList<string> OwnedAttributes { get; } = [CircuitStateAttribute, .. NumericAttributes, ProbeLeaseOwnerAttribute, OpenedByAttribute, OpenedReasonAttribute];

    /// <summary>Returns the stored text of a state.</summary>
    /// <param name="state">The state.</param>
    /// <returns><c>CLOSED</c>, <c>OPEN</c> or <c>HALF-OPEN</c>.</returns>
    public static string FormatState(StoredCircuitState state) => state switch
    {
        StoredCircuitState.Open => OpenText,
        StoredCircuitState.HalfOpen => HalfOpenText,
        _ => ClosedText,
    };

    internal static string FormatNumber(long value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>Gets the attributes of the probe lease, which are written only while a lease is held and removed otherwise.</summary>
    public static IReadOnlyList<string> LeaseAttributes { get; } = [ProbeLeaseOwnerAttribute, ProbeLeaseExpiresAttribute, ProbeLeaseEpisodeAttribute];

    /// <summary>
    /// Returns the attributes of a snapshot as stored text: the eight shared attributes, who last opened the circuit and why
    /// when known, then the lease attributes when a lease is held (a writer removes <see cref="LeaseAttributes"/> otherwise).
    /// </summary>
    /// <param name="snapshot">The snapshot to write.</param>
    /// <returns>Pairs of attribute name and stored text.</returns>
    public static IReadOnlyList<KeyValuePair<string, string>> Format(CircuitSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);

        List<KeyValuePair<string, string>> attributes =
        [
            new(CircuitStateAttribute, FormatState(snapshot.State)),
            new(FailureCountAttribute, FormatNumber(snapshot.FailureCount)),
            new(SuccessCountAttribute, FormatNumber(snapshot.SuccessCount)),
            new(NextAttemptAttribute, FormatNumber(snapshot.NextAttemptUnixMs)),
            new(LastFailureTimeAttribute, FormatNumber(snapshot.LastFailureUnixMs)),
            new(ConsecutiveOpensAttribute, FormatNumber(snapshot.ConsecutiveOpens)),
            new(StateTimestampAttribute, FormatNumber(snapshot.StateTimestampUnixMs)),
            new(SchemaVersionAttribute, FormatNumber(snapshot.SchemaVersion)),
        ];

        if (snapshot.OpenedBy is not null)
        {
            attributes.Add(new(OpenedByAttribute, snapshot.OpenedBy));
        }

        if (snapshot.OpenedReason is not null)
        {
            attributes.Add(new(OpenedReasonAttribute, snapshot.OpenedReason));
        }

        if (snapshot.ProbeLeaseOwner is not null)
        {
            attributes.Add(new(ProbeLeaseOwnerAttribute, snapshot.ProbeLeaseOwner));
            attributes.Add(new(ProbeLeaseExpiresAttribute, FormatNumber(snapshot.ProbeLeaseExpiresUnixMs)));
            attributes.Add(new(ProbeLeaseEpisodeAttribute, FormatNumber(snapshot.ProbeLeaseEpisode)));
        }

        return attributes;
    }

    /// <summary>
    /// Reads a snapshot from stored text. Missing attributes read as 0, <c>CLOSED</c> and schema version 1.
    /// </summary>
    /// <param name="getAttribute">Returns the stored text of an attribute, or <see langword="null"/> when it is missing.</param>
    /// <param name="malformedReason">Why the item could not be read, or <see langword="null"/> when it was read.</param>
    /// <returns>The snapshot, or <see cref="CircuitSnapshot.Initial"/> when the item is malformed.</returns>
    public static CircuitSnapshot Parse(Func<string, string?> getAttribute, out string? malformedReason)
    {
        ArgumentNullException.ThrowIfNull(getAttribute);

        var stateText = getAttribute(CircuitStateAttribute);
        StoredCircuitState state;
        switch (stateText)
        {
            case null or ClosedText:
                state = StoredCircuitState.Closed;
                break;
            case OpenText:
                state = StoredCircuitState.Open;
                break;
            case HalfOpenText or LegacyHalfOpenText:
                state = StoredCircuitState.HalfOpen;
                break;
            default:
                malformedReason = $"unknown {CircuitStateAttribute} '{stateText}'";
                return CircuitSnapshot.Initial;
        }

        Span<long> numbers = stackalloc long[NumericAttributes.Count];
        for (var i = 0; i < numbers.Length; i++)
        {
            var name = NumericAttributes[i];
            var text = getAttribute(name);
            if (text is null)
            {
                numbers[i] = name == SchemaVersionAttribute ? CircuitSnapshot.CurrentSchemaVersion : 0;
                continue;
            }

            if (!TryParseNumber(text, out numbers[i]))
            {
                malformedReason = $"{name} '{text}' is not a non-negative number";
                return CircuitSnapshot.Initial;
            }
        }

        // A lease is read only with its owner (any value) and its episode: the stores' claim conditions read a lease the same
        // way, so what this parser calls "no lease" can always be claimed.
        var owner = getAttribute(ProbeLeaseEpisodeAttribute) is not null ? getAttribute(ProbeLeaseOwnerAttribute) : null;
        malformedReason = null;
        return new CircuitSnapshot
        {
            State = state,
            FailureCount = numbers[0],
            SuccessCount = numbers[1],
            NextAttemptUnixMs = numbers[2],
            LastFailureUnixMs = numbers[3],
            ConsecutiveOpens = numbers[4],
            StateTimestampUnixMs = numbers[5],
            SchemaVersion = numbers[6],
            ProbeLeaseExpiresUnixMs = owner is null ? 0 : numbers[7],
            ProbeLeaseEpisode = owner is null ? 0 : numbers[8],
            ProbeLeaseOwner = owner,
            FailingEnvironments = EnvironmentSet.Parse(getAttribute(FailingEnvironmentsAttribute)),
            OpenedBy = getAttribute(OpenedByAttribute),
            OpenedReason = getAttribute(OpenedReasonAttribute),
        };
    }

    private static bool TryParseNumber(string text, out long value)
    {
        if (long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value))
        {
            return true;
        }

        // JavaScript writers may store numbers in fractional or exponent form ("1795819490356.5", "1.7e12"): round them,
        // and saturate what exceeds a long (even past double's range, which parses as infinity). The Redis scripts read numbers with the same grammar.
        value = 0;
        if (!NumberGrammar().IsMatch(text)
            || !double.TryParse(text, NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent, CultureInfo.InvariantCulture, out var number))
        {
            return false;
        }

        value = number >= long.MaxValue ? long.MaxValue : (long)Math.Round(number, MidpointRounding.AwayFromZero);
        return true;
    }

    [GeneratedRegex("^[0-9]+(\\.[0-9]+)?$|^[0-9]+\\.?[0-9]*[eE][-+]?[0-9]+$", RegexOptions.CultureInvariant)]
    private static partial Regex NumberGrammar();
}
