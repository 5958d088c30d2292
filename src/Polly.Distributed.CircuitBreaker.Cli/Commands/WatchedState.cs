using Polly.CircuitBreaker;

namespace Polly.Distributed.CircuitBreaker.Cli.Commands;

/// <summary>What a watch line shows: a line is printed only when one of these changes, not for a rewrite of the same state.</summary>
internal readonly record struct WatchedState(
    bool Exists,
    string? MalformedReason,
    CircuitState State,
    long FailureCount,
    long NextAttemptUnixMs,
    string? ProbeLeaseOwner,
    long ProbeLeaseExpiresUnixMs)
{
    public static WatchedState Of(StoredCircuit entry) => new(
        entry.Exists,
        entry.MalformedReason,
        entry.Snapshot.ToCircuitState(),
        entry.Snapshot.FailureCount,
        entry.Snapshot.NextAttemptUnixMs,
        entry.Snapshot.ProbeLeaseOwner,
        entry.Snapshot.ProbeLeaseExpiresUnixMs);
}
