namespace Polly.Distributed.CircuitBreaker.Stores.Caching;

/// <summary>
/// The cached state of one circuit in one store, shared by every breaker of the process.
/// Concurrent misses make a single store read.
/// </summary>
internal sealed class CachedCircuitState
{
    private readonly object _gate = new();
    private Value? _value;
    private TaskCompletionSource<CircuitStateEntry>? _pendingRead;

    /// <summary>Returns the cached entry if it came from the store less than <paramref name="ttlMs"/> ago.</summary>
    public bool TryGetFresh(long nowMs, long ttlMs, out CircuitStateEntry entry)
    {
        var value = Volatile.Read(ref _value);
        if (value is not null && nowMs - value.FetchedAtMs < ttlMs)
        {
            entry = value.Entry;
            return true;
        }

        entry = null!;
        return false;
    }

    /// <summary>Reads through <paramref name="read"/>, joining a read already under way.</summary>
    public async Task<CircuitStateEntry> ReadSharedAsync(Func<Task<CircuitStateEntry>> read, Func<long> nowMs)
    {
        TaskCompletionSource<CircuitStateEntry>? joined;
        TaskCompletionSource<CircuitStateEntry> pending;
        lock (_gate)
        {
            joined = _pendingRead;
            pending = _pendingRead ??= new TaskCompletionSource<CircuitStateEntry>(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        if (joined is not null)
        {
            return await joined.Task.ConfigureAwait(false);
        }

        try
        {
            var entry = await read().ConfigureAwait(false);
            Update(entry, fromStore: true, nowMs());
            pending.SetResult(entry);
            return entry;
        }
        catch (Exception ex)
        {
            pending.SetException(ex);
            _ = pending.Task.Exception;
            throw;
        }
        finally
        {
            lock (_gate)
            {
                _pendingRead = null;
            }
        }
    }

    /// <summary>
    /// Replaces the cached entry. Only an entry that came from the store (a read, or a conditional write that
    /// matched it) restarts the freshness; a local unconditional write keeps the old freshness.
    /// </summary>
    public void Update(CircuitStateEntry entry, bool fromStore, long nowMs)
    {
        lock (_gate)
        {
            var fetchedAt = fromStore ? nowMs : _value?.FetchedAtMs ?? long.MinValue;
            Volatile.Write(ref _value, new Value(entry, fetchedAt));
        }
    }

    private sealed record Value(CircuitStateEntry Entry, long FetchedAtMs);
}
