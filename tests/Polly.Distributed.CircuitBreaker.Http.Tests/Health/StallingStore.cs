namespace Polly.Distributed.CircuitBreaker.Http.Tests.Health;

/// <summary>An in-memory store whose reads can be made to hang, block their calling thread, or fail.</summary>
internal sealed class StallingStore : ICircuitStateStore
{
    public enum ReadBehaviour
    {
        Answer,
        HangIgnoringToken,
        BlockCallingThread,
        Fail,
    }

    public InMemoryCircuitStateStore Inner { get; } = new();

    public ReadBehaviour Reads { get; set; }

    public ValueTask<StoredCircuit> ReadAsync(string circuitId, CancellationToken cancellationToken)
    {
        switch (Reads)
        {
            case ReadBehaviour.HangIgnoringToken:
                return new(new TaskCompletionSource<StoredCircuit>(TaskCreationOptions.RunContinuationsAsynchronously).Task);
            case ReadBehaviour.BlockCallingThread:
                Thread.Sleep(TimeSpan.FromSeconds(5));
                break;
            case ReadBehaviour.Fail:
                return ValueTask.FromException<StoredCircuit>(
                    new CircuitStateStoreException("connection refused") { Kind = CircuitStateStoreFailureKind.Unreachable });
        }

        return Inner.ReadAsync(circuitId, cancellationToken);
    }

    public ValueTask<bool> WriteAsync(string circuitId, CircuitSnapshot snapshot, CancellationToken cancellationToken) =>
        Inner.WriteAsync(circuitId, snapshot, cancellationToken);

    public ValueTask<CircuitWriteResult> TryReplaceAsync(string circuitId, StoredCircuit expected, CircuitSnapshot replacement, CancellationToken cancellationToken) =>
        Inner.TryReplaceAsync(circuitId, expected, replacement, cancellationToken);

    public ValueTask<CircuitWriteResult> TryClaimProbeAsync(string circuitId, string owner, long leaseExpiresUnixMs, long nowUnixMs, CancellationToken cancellationToken) =>
        Inner.TryClaimProbeAsync(circuitId, owner, leaseExpiresUnixMs, nowUnixMs, cancellationToken);

    public ValueTask<CircuitIncrementResult> TryIncrementFailureAsync(string circuitId, CircuitFailureIncrement increment, CancellationToken cancellationToken) =>
        Inner.TryIncrementFailureAsync(circuitId, increment, cancellationToken);
}
