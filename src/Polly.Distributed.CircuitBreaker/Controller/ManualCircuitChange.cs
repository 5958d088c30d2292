namespace Polly.Distributed.CircuitBreaker.Controller;

/// <summary>
/// An operator's change (isolate, close) applied to the shared state by compare-and-set until it lands, so that it never
/// depends on clocks agreeing nor is lost to a race. Store errors are thrown.
/// </summary>
internal static class ManualCircuitChange
{
    public static async Task<(CircuitSnapshot Before, CircuitSnapshot After)> ApplyAsync(
        Func<CancellationToken, Task<StoredCircuit>> read,
        Func<StoredCircuit, CircuitSnapshot, CancellationToken, Task<bool>> replace,
        Func<CircuitSnapshot, long, CircuitSnapshot> change,
        Func<long> nowMs,
        CancellationToken cancellationToken)
    {
        while (true)
        {
            var entry = await read(cancellationToken).ConfigureAwait(false);
            var next = change(entry.Snapshot, nowMs());
            if (await replace(entry, next, cancellationToken).ConfigureAwait(false))
            {
                return (entry.Snapshot, next);
            }
        }
    }
}
