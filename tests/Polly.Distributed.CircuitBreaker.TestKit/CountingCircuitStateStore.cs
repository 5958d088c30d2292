using Polly.Distributed.CircuitBreaker;

namespace Polly.Distributed.CircuitBreaker.TestKit;

/// <summary>Counts the calls that reach an inner store, and can add latency so that concurrent callers interleave.</summary>
public sealed class CountingCircuitStateStore(ICircuitStateStore inner, TimeSpan latency = default) : ICircuitStateStore
{
    private int _reads;
    private int _writes;
    private int _replaces;
    private int _claims;
    private int _increments;
    private int _incrementsInFlight;
    private int _mostIncrementsInFlight;

    public int Reads => Volatile.Read(ref _reads);

    public int Writes => Volatile.Read(ref _writes);

    public int Replaces => Volatile.Read(ref _replaces);

    public int Claims => Volatile.Read(ref _claims);

    public int Increments => Volatile.Read(ref _increments);

    public int AllWrites => Writes + Replaces + Claims + Increments;

    /// <summary>Gets the most failure counts that were in flight at once.</summary>
    public int MostIncrementsInFlight => Volatile.Read(ref _mostIncrementsInFlight);

    public async ValueTask<StoredCircuit> ReadAsync(string circuitId, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _reads);
        await DelayAsync(cancellationToken);
        return await inner.ReadAsync(circuitId, cancellationToken);
    }

    public async ValueTask<bool> WriteAsync(string circuitId, CircuitSnapshot snapshot, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _writes);
        await DelayAsync(cancellationToken);
        return await inner.WriteAsync(circuitId, snapshot, cancellationToken);
    }

    public async ValueTask<CircuitWriteResult> TryReplaceAsync(string circuitId, StoredCircuit expected, CircuitSnapshot replacement, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _replaces);
        await DelayAsync(cancellationToken);
        return await inner.TryReplaceAsync(circuitId, expected, replacement, cancellationToken);
    }

    public async ValueTask<CircuitWriteResult> TryClaimProbeAsync(string circuitId, string owner, long leaseExpiresUnixMs, long nowUnixMs, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _claims);
        await DelayAsync(cancellationToken);
        return await inner.TryClaimProbeAsync(circuitId, owner, leaseExpiresUnixMs, nowUnixMs, cancellationToken);
    }

    public async ValueTask<CircuitIncrementResult> TryIncrementFailureAsync(string circuitId, CircuitFailureIncrement increment, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _increments);
        var inFlight = Interlocked.Increment(ref _incrementsInFlight);
        for (var most = Volatile.Read(ref _mostIncrementsInFlight); inFlight > most; most = Volatile.Read(ref _mostIncrementsInFlight))
        {
            Interlocked.CompareExchange(ref _mostIncrementsInFlight, inFlight, most);
        }

        try
        {
            await DelayAsync(cancellationToken);
            return await inner.TryIncrementFailureAsync(circuitId, increment, cancellationToken);
        }
        finally
        {
            Interlocked.Decrement(ref _incrementsInFlight);
        }
    }

    private async ValueTask DelayAsync(CancellationToken cancellationToken)
    {
        if (latency > TimeSpan.Zero)
        {
            await Task.Delay(latency, cancellationToken);
        }
    }
}
