namespace Polly.Distributed.CircuitBreaker.Stores.Caching;

/// <summary>
/// The cached state of one circuit in one store, shared by every breaker of the process.
/// Concurrent misses make a single store read.
/// </summary>
/// <remarks>
/// Every change bumps a generation. A store read applies its result only if no change happened while it was in flight,
/// so a read that started before this process wrote can never bring back the older state as fresh.
/// </remarks>
internal sealed class CachedCircuitState
{
    private readonly object _gate = new();
    private Value? _value;
    private long _generation;
    private TaskCompletionSource<CircuitStateEntry>? _pendingRead;
    private SeenLease? _seenLease;

    /// <summary>Gets the generation to pass to <see cref="UpdateFromStore"/> for a store call about to start.</summary>
    public long Generation => Volatile.Read(ref _generation);

    /// <summary>Returns when this process first saw the probe lease <paramref name="snapshot"/> holds, or <see langword="null"/>.</summary>
    public long? LeaseFirstSeen(CircuitSnapshot snapshot) =>
        Volatile.Read(ref _seenLease) is { } seen && snapshot.ProbeLeaseOwner is not null
        && seen.Owner == snapshot.ProbeLeaseOwner && seen.Episode == snapshot.ProbeLeaseEpisode && seen.Expires == snapshot.ProbeLeaseExpiresUnixMs
            ? seen.FirstSeenMs
            : null;

    /// <summary>Gets the last entry this process saw, however old, or <see langword="null"/> when it saw none.</summary>
    public CircuitStateEntry? LastKnown => Volatile.Read(ref _value)?.Entry;

    /// <summary>Returns the cached entry if it came from the store less than <paramref name="ttlMs"/> ago.</summary>
    public bool TryGetFresh(long nowMs, long ttlMs, out CircuitStateEntry entry)
    {
        var value = Volatile.Read(ref _value);
        if (value?.FetchedAtOrNull is { } fetchedAt && nowMs - fetchedAt < ttlMs)
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
        long generation;
        lock (_gate)
        {
            joined = _pendingRead;
            pending = _pendingRead ??= new TaskCompletionSource<CircuitStateEntry>(TaskCreationOptions.RunContinuationsAsynchronously);
            generation = _generation;
        }

        if (joined is not null)
        {
            return await joined.Task.ConfigureAwait(false);
        }

        try
        {
            var entry = await read().ConfigureAwait(false);
            UpdateFromStore(entry, generation, nowMs());
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
    /// Caches what a store call that started at <paramref name="generation"/> returned, unless the cache changed since:
    /// then the store's answer may predate this process's own write.
    /// </summary>
    public void UpdateFromStore(CircuitStateEntry entry, long generation, long nowMs)
    {
        lock (_gate)
        {
            NoteLease(entry.Snapshot, nowMs);
            if (_generation == generation)
            {
                Set(entry, nowMs);
            }
        }
    }

    /// <summary>
    /// Caches the result of this process's own write that started at <paramref name="generation"/>. A conditional write that
    /// matched the store restarts the freshness (<paramref name="confirmedByStore"/>); an unconditional write keeps the old
    /// freshness, so it never hides others' writes longer. If the cache changed while the write was in flight, either value
    /// may be the newer one: the entry is kept stale, so the next call reads the store.
    /// </summary>
    public void UpdateAfterWrite(CircuitStateEntry entry, bool confirmedByStore, long generation, long nowMs)
    {
        lock (_gate)
        {
            NoteLease(entry.Snapshot, nowMs);
            Set(entry, _generation != generation ? null : confirmedByStore ? nowMs : _value?.FetchedAtOrNull);
        }
    }

    /// <summary>
    /// Applies a change that only this process knows of (a failure the store could not record) to the last entry seen.
    /// The result is never fresh: it serves only when the store cannot answer, and the next store answer replaces it.
    /// </summary>
    public void UpdateLocally(Func<CircuitSnapshot, CircuitSnapshot?> change)
    {
        lock (_gate)
        {
            var last = _value?.Entry ?? CircuitStateEntry.Missing;
            if (change(last.Snapshot) is { } next)
            {
                Set(new CircuitStateEntry(next, last.Exists, null), null);
            }
        }
    }

    private void NoteLease(CircuitSnapshot snapshot, long nowMs)
    {
        if (snapshot.ProbeLeaseOwner is { } owner && LeaseFirstSeen(snapshot) is null)
        {
            Volatile.Write(ref _seenLease, new SeenLease(owner, snapshot.ProbeLeaseEpisode, snapshot.ProbeLeaseExpiresUnixMs, nowMs));
        }
    }

    // The in-memory store hands back the same entry until it changes: then only the freshness moves, and nothing is allocated.
    private void Set(CircuitStateEntry entry, long? fetchedAtMs)
    {
        _generation++;
        var fetched = fetchedAtMs ?? Value.NeverFetched;
        if (_value is { } current && ReferenceEquals(current.Entry, entry))
        {
            current.FetchedAtMs = fetched;
        }
        else
        {
            Volatile.Write(ref _value, new Value(entry, fetched));
        }
    }

    private sealed class Value(CircuitStateEntry entry, long fetchedAtMs)
    {
        public const long NeverFetched = long.MinValue;

        private long _fetchedAtMs = fetchedAtMs;

        public CircuitStateEntry Entry { get; } = entry;

        public long FetchedAtMs
        {
            get => Volatile.Read(ref _fetchedAtMs);
            set => Volatile.Write(ref _fetchedAtMs, value);
        }

        public long? FetchedAtOrNull => FetchedAtMs == NeverFetched ? null : FetchedAtMs;
    }

    private sealed record SeenLease(string Owner, long Episode, long Expires, long FirstSeenMs);
}
