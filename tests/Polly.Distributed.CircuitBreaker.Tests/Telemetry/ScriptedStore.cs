namespace Polly.Distributed.CircuitBreaker.Tests.Telemetry;

/// <summary>
/// An in-memory store whose requests a test can fail, slow down on a fake clock, or make return a malformed item. Its type
/// name is the <c>store.type</c> tag the tests look for.
/// </summary>
internal sealed class ScriptedStore : ICircuitStateStore
{
    public InMemoryCircuitStateStore Inner { get; } = new();

    /// <summary>Runs inside every request, before it answers (advancing a fake clock, for one).</summary>
    public Action? During { get; set; }

    /// <summary>The error a request of the given operation fails with, if any.</summary>
    public Func<CircuitStateStoreOperation, Exception?>? Fail { get; set; }

    /// <summary>When set, reads return a malformed item for this reason.</summary>
    public string? MalformedReason { get; set; }

    /// <summary>When set, a failing request throws before it returns, as a store method that is not async does.</summary>
    public bool ThrowsSynchronously { get; set; }

    /// <summary>When set, reads never answer until their token is cancelled.</summary>
    public bool ReadsHang { get; set; }

    public ValueTask<StoredCircuit> ReadAsync(string circuitId, CancellationToken cancellationToken)
    {
        if (ReadsHang)
        {
            return new(HangAsync(cancellationToken));
        }

        return Answer(CircuitStateStoreOperation.Read, () => MalformedReason is { } reason
            ? new ValueTask<StoredCircuit>(new StoredCircuit(CircuitSnapshot.Initial, true, null, reason))
            : Inner.ReadAsync(circuitId, cancellationToken));
    }

    public ValueTask<bool> WriteAsync(string circuitId, CircuitSnapshot snapshot, CancellationToken cancellationToken) =>
        Answer(CircuitStateStoreOperation.Write, () => Inner.WriteAsync(circuitId, snapshot, cancellationToken));

    public ValueTask<CircuitWriteResult> TryReplaceAsync(string circuitId, StoredCircuit expected, CircuitSnapshot replacement, CancellationToken cancellationToken) =>
        Answer(CircuitStateStoreOperation.Replace, () => Inner.TryReplaceAsync(circuitId, expected, replacement, cancellationToken));

    public ValueTask<CircuitWriteResult> TryClaimProbeAsync(string circuitId, string owner, long leaseExpiresUnixMs, long nowUnixMs, CancellationToken cancellationToken) =>
        Answer(CircuitStateStoreOperation.ClaimProbe, () => Inner.TryClaimProbeAsync(circuitId, owner, leaseExpiresUnixMs, nowUnixMs, cancellationToken));

    public ValueTask<CircuitIncrementResult> TryIncrementFailureAsync(string circuitId, CircuitFailureIncrement increment, CancellationToken cancellationToken) =>
        Answer(CircuitStateStoreOperation.CountFailure, () => Inner.TryIncrementFailureAsync(circuitId, increment, cancellationToken));

    private static async Task<StoredCircuit> HangAsync(CancellationToken cancellationToken)
    {
        await Task.Delay(System.Threading.Timeout.InfiniteTimeSpan, cancellationToken);
        throw new InvalidOperationException("unreachable");
    }

    private ValueTask<T> Answer<T>(CircuitStateStoreOperation operation, Func<ValueTask<T>> answer)
    {
        During?.Invoke();
        if (Fail?.Invoke(operation) is not { } error)
        {
            return answer();
        }

        return ThrowsSynchronously ? throw error : ValueTask.FromException<T>(error);
    }
}
