namespace Polly.Distributed.CircuitBreaker.Stores.Caching;

/// <summary>
/// What this process knows of one circuit in one store, shared by every breaker of the process: the last state seen and
/// since when it is fresh, the store read in flight, and when a probe lease was first seen. Local durations are measured
/// on the monotonic clock (milliseconds of <see cref="TimeProvider.GetTimestamp"/>), so a wall clock stepped backwards
/// never keeps an entry fresh for longer than the cache allows.
/// </summary>
/// <remarks>
/// Store answers are ordered by what the store said, never by arrival: an answer replaces the known state when its
/// request started after the known state arrived (so the store answered later), or when its state timestamp is not older.
/// A late answer (a count that landed after its call stopped waiting) therefore never hides a newer state.
/// </remarks>
internal sealed class KnownCircuitState
{
    private const long NeverFresh = long.MinValue;

    private readonly object _gate = new();
    private Known? _known;
    private Task<StoredCircuit>? _readInFlight;
    private SeenLease? _seenLease;
    private long _requestsStarted;
    private long _lastAnsweredMonoMs = long.MinValue;

    /// <summary>Gets the last state this process saw, however old, or <see langword="null"/> when it saw none.</summary>
    public StoredCircuit? LastKnown => Volatile.Read(ref _known)?.Entry;

    /// <summary>Gets the number of the last store request started for this circuit by this process (0 for none).</summary>
    public long RequestsStarted => Volatile.Read(ref _requestsStarted);

    /// <summary>Gets when (monotonic ms) the store last answered a request for this circuit; <see cref="long.MinValue"/> when it never did.</summary>
    public long LastAnsweredMonoMs => Volatile.Read(ref _lastAnsweredMonoMs);

    /// <summary>Gets a value indicating whether a store read is in flight.</summary>
    public bool ReadInFlight => Volatile.Read(ref _readInFlight) is not null;

    /// <summary>Gets a value indicating whether the last known state is a change only this process made (<see cref="ApplyLocally"/>), not a store's answer.</summary>
    public bool LastKnownIsLocal => Volatile.Read(ref _known)?.Local ?? false;

    /// <summary>
    /// Returns the known state if it came from the store less than <paramref name="ttlMs"/> ago, and no change fell due
    /// since (the break of an open circuit ended, or a probe lease expired): a due change is decided on a state read after
    /// it fell due, so a fleet whose caches all say OPEN does not write the same transition from every process at once.
    /// </summary>
    /// <param name="nowMonoMs">Now, on the monotonic clock.</param>
    /// <param name="ttlMs">How long a state read from the store is fresh.</param>
    /// <param name="clock">The wall clock that the due times of the stored state are on.</param>
    /// <param name="entry">The fresh state.</param>
    public bool TryGetFresh(long nowMonoMs, long ttlMs, TimeProvider clock, out StoredCircuit entry)
    {
        var known = Volatile.Read(ref _known);
        if (known is not null
            && known.FreshSinceMonoMs != NeverFresh
            && nowMonoMs - known.FreshSinceMonoMs is var ageMs && ageMs < ttlMs
            && !ChangeFellDueSince(known.Entry.Snapshot, ageMs, clock))
        {
            entry = known.Entry;
            return true;
        }

        entry = null!;
        return false;
    }

    /// <summary>
    /// Returns the store read in flight, or starts one with <paramref name="start"/>: a process keeps at most one read of a
    /// circuit in flight, however many callers wait for it. Its failure is always observed, whoever still waits.
    /// </summary>
    public Task<StoredCircuit> JoinOrStartRead(Func<Task<StoredCircuit>> start)
    {
        lock (_gate)
        {
            if (_readInFlight is { } joined)
            {
                return joined;
            }

            var started = start();
            if (started.IsCompleted)
            {
                _ = started.Exception;
                return started;
            }

            _readInFlight = started;
            _ = started.ContinueWith(
                static (read, state) => ((KnownCircuitState)state!).EndRead(read),
                this,
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
            return started;
        }
    }

    /// <summary>Applies a store's answer to a request that started at <paramref name="startedMonoMs"/>.</summary>
    /// <param name="entry">The stored state the store returned.</param>
    /// <param name="startedMonoMs">When the request started.</param>
    /// <param name="nowMonoMs">Now.</param>
    /// <param name="fresh">
    /// Whether the answer shows what is stored (a read, or a conditional write that returned the stored item): it may then
    /// serve as a cached read. A local unconditional write updates the known state but never extends its freshness.
    /// </param>
    /// <param name="requestNumber">The request's number (<see cref="StartRequest"/>), or 0 when it has none.</param>
    public void Apply(StoredCircuit entry, long startedMonoMs, long nowMonoMs, bool fresh, long requestNumber = 0)
    {
        Volatile.Write(ref _lastAnsweredMonoMs, nowMonoMs);

        // The same entry again (a store that hands back its entry until it changes): only the times move, with no lock.
        if (Volatile.Read(ref _known) is { } same && ReferenceEquals(same.Entry, entry))
        {
            same.ArrivedMonoMs = nowMonoMs;
            same.NoteAnswered(requestNumber);
            if (fresh)
            {
                same.FreshSinceMonoMs = nowMonoMs;
            }

            return;
        }

        lock (_gate)
        {
            NoteLease(entry.Snapshot, nowMonoMs);
            var known = _known;
            if (known is null || startedMonoMs >= known.ArrivedMonoMs || entry.Snapshot.StateTimestampUnixMs >= known.Entry.Snapshot.StateTimestampUnixMs)
            {
                Set(entry, nowMonoMs, fresh ? nowMonoMs : known?.FreshSinceMonoMs ?? NeverFresh, requestNumber);
            }
        }
    }

    /// <summary>
    /// Applies a change that only this process knows of (a failure the store could not record) to the last state seen.
    /// The result is never fresh: it serves only when the store cannot answer, and the next store answer replaces it.
    /// </summary>
    /// <param name="change">The change.</param>
    /// <param name="nowMonoMs">Now.</param>
    /// <param name="unlessAnsweredAfterRequest">
    /// <see cref="RequestsStarted"/> before the change's own request was started: a store answer to a later request (that
    /// request's own, landed after its call stopped waiting) may hold the change already, and it is not applied twice.
    /// </param>
    /// <returns>The state after the change when it opened the circuit, otherwise <see langword="null"/>.</returns>
    public CircuitSnapshot? ApplyLocally(Func<CircuitSnapshot, CircuitSnapshot?> change, long nowMonoMs, long unlessAnsweredAfterRequest = long.MaxValue)
    {
        lock (_gate)
        {
            if (_known is { Local: false } answered && answered.RequestNumber > unlessAnsweredAfterRequest)
            {
                return null;
            }

            var last = _known?.Entry ?? StoredCircuit.Missing;
            if (change(last.Snapshot) is not { } next)
            {
                return null;
            }

            Set(new StoredCircuit(next, last.Exists, null), nowMonoMs, NeverFresh, requestNumber: 0, local: true);
            return next.State == StoredCircuitState.Open && last.Snapshot.State != StoredCircuitState.Open ? next : null;
        }
    }

    /// <summary>Numbers a store request about to start: answers to it are applied with its number.</summary>
    /// <remarks>
    /// Not atomic (this runs on every uncached check): requests that start at once may share a number, but a request's
    /// number is always above every <see cref="RequestsStarted"/> read before it started, which is all
    /// <see cref="ApplyLocally"/> relies on.
    /// </remarks>
    public long StartRequest()
    {
        var number = Volatile.Read(ref _requestsStarted) + 1;
        Volatile.Write(ref _requestsStarted, number);
        return number;
    }

    /// <summary>
    /// Ends the freshness of the known state: a request decided on it was refused or not answered, so the next decision
    /// waits for the store's next answer (within the read interval) instead of sending the same request on every call.
    /// </summary>
    public void EndFreshness()
    {
        if (Volatile.Read(ref _known) is { } known)
        {
            known.FreshSinceMonoMs = NeverFresh;
        }
    }

    /// <summary>Returns how long ago this process first saw the probe lease <paramref name="snapshot"/> holds, or <see langword="null"/>.</summary>
    public long? LeaseSeenAgoMs(CircuitSnapshot snapshot, long nowMonoMs) =>
        Volatile.Read(ref _seenLease) is { } seen && snapshot.ProbeLeaseOwner is not null
        && seen.Owner == snapshot.ProbeLeaseOwner && seen.Episode == snapshot.ProbeLeaseEpisode && seen.Expires == snapshot.ProbeLeaseExpiresUnixMs
            ? nowMonoMs - seen.FirstSeenMonoMs
            : null;

    // A closed or isolated circuit has no change due at a time: no clock is read for it.
    private static bool ChangeFellDueSince(CircuitSnapshot snapshot, long ageMs, TimeProvider clock)
    {
        var dueUnixMs = snapshot switch
        {
            { State: StoredCircuitState.Open, IsIsolated: false } => snapshot.NextAttemptUnixMs,
            { State: StoredCircuitState.HalfOpen, ProbeLeaseOwner: not null } => snapshot.ProbeLeaseExpiresUnixMs,
            _ => long.MaxValue,
        };
        if (dueUnixMs == long.MaxValue)
        {
            return false;
        }

        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        return dueUnixMs <= now && dueUnixMs > now - ageMs;
    }

    private void EndRead(Task<StoredCircuit> read)
    {
        _ = read.Exception;
        lock (_gate)
        {
            if (ReferenceEquals(_readInFlight, read))
            {
                _readInFlight = null;
            }
        }
    }

    private void NoteLease(CircuitSnapshot snapshot, long nowMonoMs)
    {
        if (snapshot.ProbeLeaseOwner is { } owner && LeaseSeenAgoMs(snapshot, nowMonoMs) is null)
        {
            Volatile.Write(ref _seenLease, new SeenLease(owner, snapshot.ProbeLeaseEpisode, snapshot.ProbeLeaseExpiresUnixMs, nowMonoMs));
        }
    }

    // A store that hands back the same entry until it changes (the in-memory store) moves only the times: nothing is allocated.
    private void Set(StoredCircuit entry, long arrivedMonoMs, long freshSinceMonoMs, long requestNumber, bool local = false)
    {
        if (_known is { } current && ReferenceEquals(current.Entry, entry))
        {
            current.ArrivedMonoMs = arrivedMonoMs;
            current.FreshSinceMonoMs = freshSinceMonoMs;
            current.NoteAnswered(requestNumber);
        }
        else
        {
            Volatile.Write(ref _known, new Known(entry, arrivedMonoMs, freshSinceMonoMs, requestNumber, local));
        }
    }

    private sealed class Known(StoredCircuit entry, long arrivedMonoMs, long freshSinceMonoMs, long requestNumber, bool local)
    {
        private long _arrivedMonoMs = arrivedMonoMs;
        private long _freshSinceMonoMs = freshSinceMonoMs;
        private long _requestNumber = requestNumber;

        public StoredCircuit Entry { get; } = entry;

        public bool Local { get; } = local;

        /// <summary>Gets the number of the latest request answered with this entry (0 for none, or a local change).</summary>
        public long RequestNumber => Volatile.Read(ref _requestNumber);

        // Not atomic either: two answers of one entry at once may leave the lower number, and a change the higher one
        // holds may then be applied locally once more, as before numbers were kept (the next answer replaces it).
        public void NoteAnswered(long requestNumber)
        {
            if (requestNumber > Volatile.Read(ref _requestNumber))
            {
                Volatile.Write(ref _requestNumber, requestNumber);
            }
        }

        public long ArrivedMonoMs
        {
            get => Volatile.Read(ref _arrivedMonoMs);
            set => Volatile.Write(ref _arrivedMonoMs, value);
        }

        public long FreshSinceMonoMs
        {
            get => Volatile.Read(ref _freshSinceMonoMs);
            set => Volatile.Write(ref _freshSinceMonoMs, value);
        }
    }

    private sealed record SeenLease(string Owner, long Episode, long Expires, long FirstSeenMonoMs);
}
