using System.Globalization;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Polly.Distributed.CircuitBreaker.Health;

/// <summary>
/// What the health check found for one circuit: the state the store returned (or, when it did not answer, the state this
/// process last knew), this process's own circuit, and why the store did not answer.
/// </summary>
/// <param name="CircuitId">The circuit id.</param>
/// <param name="Snapshot">The state; <see langword="null"/> when the store did not answer and this process never saw the circuit.</param>
/// <param name="LocalState">This process's own circuit.</param>
/// <param name="StoreError">
/// Why the store did not answer (<c>timeout</c>, <c>throttled</c>, <c>unreachable</c>, <c>other</c>), or
/// <see langword="null"/> when it answered.
/// </param>
internal sealed record CircuitHealthReport(string CircuitId, CircuitSnapshot? Snapshot, LocalCircuitState LocalState, string? StoreError)
{
    public bool StoreReachable => StoreError is null;

    public HealthStatus Status(bool unhealthyWhenOpen) => this switch
    {
        { StoreReachable: false } => HealthStatus.Degraded,
        { Snapshot.State: StoredCircuitState.Open } => unhealthyWhenOpen ? HealthStatus.Unhealthy : HealthStatus.Degraded,
        { Snapshot.State: StoredCircuitState.HalfOpen } => HealthStatus.Degraded,
        { LocalState: not LocalCircuitState.Closed } => HealthStatus.Degraded,
        _ => HealthStatus.Healthy,
    };

    /// <summary>The circuit's entry in the check's data.</summary>
    public IReadOnlyDictionary<string, object> ToData()
    {
        var data = new Dictionary<string, object>(StringComparer.Ordinal)
        {
            ["state"] = StateName,
            ["storeReachable"] = StoreReachable,
            ["localState"] = LocalState.ToString(),
        };

        if (Snapshot is { State: not StoredCircuitState.Closed } snapshot)
        {
            data["nextAttempt"] = Iso8601(snapshot.NextAttemptUnixMs);
        }

        if (StoreError is { } error)
        {
            data["storeError"] = error;
        }

        return data;
    }

    /// <summary>One clause of the check's description, for a circuit that is not healthy.</summary>
    public string Describe()
    {
        var state = Snapshot is { State: not StoredCircuitState.Closed } snapshot
            ? $"{StateName} until {Iso8601(snapshot.NextAttemptUnixMs)}"
            : StateName;
        var described = StoreReachable
            ? $"{CircuitId} {state}"
            : $"{CircuitId}: the store did not answer ({StoreError}), last known {state}";
        return LocalState == LocalCircuitState.Closed ? described : $"{described}, this process's own circuit {LocalState}";
    }

    private string StateName => Snapshot?.ToCircuitState().ToString() ?? "Unknown";

    private static string Iso8601(long unixMs)
    {
        var clamped = Math.Clamp(unixMs, DateTimeOffset.MinValue.ToUnixTimeMilliseconds(), DateTimeOffset.MaxValue.ToUnixTimeMilliseconds());
        return DateTimeOffset.FromUnixTimeMilliseconds(clamped).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
    }
}
