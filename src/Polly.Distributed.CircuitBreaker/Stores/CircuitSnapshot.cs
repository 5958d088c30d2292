namespace Polly.Distributed.CircuitBreaker;

/// <summary>
/// One circuit's shared state: the attributes of the item that every process of the fleet reads and writes.
/// </summary>
/// <remarks>
/// The attribute names and meanings match the Node.js library circuitbreaker-lambda v1.x, so mixed fleets share circuits.
/// All times are Unix epoch milliseconds.
/// </remarks>
public sealed record CircuitSnapshot
{
    /// <summary>The schema version this project writes (<c>schemaVersion</c>).</summary>
    public const int CurrentSchemaVersion = 1;

    /// <summary>
    /// The <see cref="NextAttemptUnixMs"/> written by a manual isolation: 9999-12-31T23:59:59.999Z, exact in JavaScript numbers.
    /// </summary>
    public static readonly long IsolatedUntilUnixMs = DateTimeOffset.MaxValue.ToUnixTimeMilliseconds();

    /// <summary>Gets the state of a circuit that has never been written: closed, nothing counted.</summary>
    public static CircuitSnapshot Initial { get; } = new();

    /// <summary>Gets the circuit state (<c>circuitState</c>).</summary>
    public StoredCircuitState State { get; init; } = StoredCircuitState.Closed;

    /// <summary>Gets the failures counted while closed (<c>failureCount</c>).</summary>
    public long FailureCount { get; init; }

    /// <summary>Gets the successes counted while half-open (<c>successCount</c>).</summary>
    public long SuccessCount { get; init; }

    /// <summary>Gets the time until which an open circuit rejects calls (<c>nextAttempt</c>).</summary>
    public long NextAttemptUnixMs { get; init; }

    /// <summary>Gets the time of the last counted failure, 0 for never (<c>lastFailureTime</c>).</summary>
    public long LastFailureUnixMs { get; init; }

    /// <summary>Gets the half-open to open transitions since the circuit last closed (<c>consecutiveOpens</c>).</summary>
    public long ConsecutiveOpens { get; init; }

    /// <summary>Gets the time of the write that produced this state (<c>stateTimestamp</c>).</summary>
    public long StateTimestampUnixMs { get; init; }

    /// <summary>Gets the schema version of the item (<c>schemaVersion</c>).</summary>
    public long SchemaVersion { get; init; } = CurrentSchemaVersion;

    /// <summary>
    /// Gets the identity of the process call that holds the half-open probe lease (<c>probeLeaseOwner</c>),
    /// or <see langword="null"/> when no lease is held. Written in atomic mode only.
    /// </summary>
    public string? ProbeLeaseOwner { get; init; }

    /// <summary>Gets the time at which the probe lease expires (<c>probeLeaseExpires</c>), 0 when none is held.</summary>
    public long ProbeLeaseExpiresUnixMs { get; init; }

    /// <summary>
    /// Gets the half-open episode the probe lease belongs to (<c>probeLeaseEpisode</c>): the <see cref="NextAttemptUnixMs"/> of
    /// the open circuit that half-opened. A lease left from an earlier episode (the circuit closed or re-opened meanwhile,
    /// for example by a process that does not know leases) does not match and never blocks a probe.
    /// </summary>
    public long ProbeLeaseEpisode { get; init; }

    /// <summary>Gets the id of the environment that last opened the circuit (<c>openedBy</c>), this project's own; <see langword="null"/> when unknown.</summary>
    public string? OpenedBy { get; init; }

    /// <summary>
    /// Gets what tipped the last opening (<c>openedReason</c>): the exception type name, or the HTTP status of a response
    /// such as <c>HTTP 503</c>, never message text; <see langword="null"/> when unknown.
    /// </summary>
    public string? OpenedReason { get; init; }

    /// <summary>
    /// Gets the distinct environments whose failures the current counting episode holds (<c>failingEnvironments</c>), this
    /// project's own and optional: kept by the store only for a circuit that needs failures from several environments
    /// to open (a quorum), at most as many as it needs. A count from zero starts a new episode; an opening clears it.
    /// </summary>
    public EnvironmentSet FailingEnvironments { get; init; } = EnvironmentSet.Empty;

    /// <summary>Gets a value indicating whether the circuit was isolated manually and stays open until closed manually.</summary>
    public bool IsIsolated => State == StoredCircuitState.Open && NextAttemptUnixMs >= IsolatedUntilUnixMs;

    /// <summary>Gets the state as Polly's in-process <see cref="Polly.CircuitBreaker.CircuitState"/>.</summary>
    public Polly.CircuitBreaker.CircuitState ToCircuitState() => State switch
    {
        StoredCircuitState.Open when IsIsolated => Polly.CircuitBreaker.CircuitState.Isolated,
        StoredCircuitState.Open => Polly.CircuitBreaker.CircuitState.Open,
        StoredCircuitState.HalfOpen => Polly.CircuitBreaker.CircuitState.HalfOpen,
        _ => Polly.CircuitBreaker.CircuitState.Closed,
    };
}
