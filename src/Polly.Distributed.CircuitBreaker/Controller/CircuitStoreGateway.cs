using Microsoft.Extensions.Logging;
using Polly.Distributed.CircuitBreaker.Stores.Caching;
using Polly.Distributed.CircuitBreaker.Telemetry;
using Polly.Telemetry;

namespace Polly.Distributed.CircuitBreaker.Controller;

/// <summary>
/// Every store request a breaker makes: bounded by the call's <see cref="StoreBudget"/> and the caller's token, applied to
/// what the process knows of the circuit (<see cref="KnownCircuitState"/>), measured (<see cref="CircuitStoreMetrics"/>),
/// and turned into a reported failure (never an exception) when the store cannot answer.
/// </summary>
/// <remarks>
/// A store whose request completes synchronously and at once (the in-memory store, or any store that answers from
/// memory) is called on the caller's thread and its answer used at once, with no timer and no thread hop. Any other
/// store is called on the thread pool, so a client that blocks its calling thread (synchronous credential resolution or
/// connect) is bounded as well. The gateway learns which kind a store is from its answers, whatever its type.
/// </remarks>
internal sealed class CircuitStoreGateway
{
    // A synchronous answer slower than a quarter of StoreTimeout (at most this) came from a client that blocks: its
    // requests move to the thread pool. Far above a scheduling pause on a busy machine, so a store answering from memory
    // stays inline.
    private static readonly TimeSpan MaxInlineAnswerTime = TimeSpan.FromMilliseconds(100);

    // An answer slower than this (or an eighth of StoreTimeout, whichever is longer) waited in the store's queue.
    private static readonly TimeSpan QueuedAnswerFloor = TimeSpan.FromMilliseconds(25);

    // The first stretch of the read interval when the store shows pressure; it doubles while the pressure lasts.
    private const long PressureStepMs = 100;

    // The read interval is drawn between these fractions (per mille) of the pressure, once per read.
    private const int FewestIntervalPermille = 500;
    private const int MostIntervalPermille = 1_500;

    private readonly ICircuitStateStore _store;
    private readonly string _circuitId;
    private readonly TimeProvider _timeProvider;
    private readonly KnownCircuitState _known;
    private readonly long _cacheTtlMs;
    private readonly ILogger? _logger;
    private readonly ResilienceStrategyTelemetry _telemetry;
    private readonly Func<OnCircuitStateStoreFailureArguments, ValueTask>? _onStateStoreFailure;
    private readonly Func<Task<StoredCircuit>> _startSharedRead;
    private readonly CircuitStoreMetrics _metrics;
    private readonly long _pressureCeilingMs;
    private readonly long _sustainedPressureCeilingMs;
    private readonly long _inlineAnswerLimitMs;
    private readonly bool _onSystemClock;
    private volatile bool _answersInline;
    private volatile bool _lastPressureThrottled;
    private long _pressureMs;
    private long _pressureRaisedMonoMs;
    private Task? _abandonedCount;
    private long _lastReadStartedMonoMs = long.MinValue;
    private long _intervalJitterPermille = 1_000;
    private int _requestsHeld;
    private int _requestsRunningLate;

    public CircuitStoreGateway(
        ICircuitStateStore store,
        string circuitId,
        TimeSpan storeTimeout,
        TimeSpan cacheTtl,
        TimeSpan pressureCeiling,
        TimeSpan sustainedPressureCeiling,
        TimeProvider timeProvider,
        ILogger? logger,
        ResilienceStrategyTelemetry telemetry,
        Func<OnCircuitStateStoreFailureArguments, ValueTask>? onStateStoreFailure)
    {
        _store = store;
        _circuitId = circuitId;
        StoreTimeout = storeTimeout;
        _cacheTtlMs = (long)cacheTtl.TotalMilliseconds;
        _pressureCeilingMs = Math.Max((long)pressureCeiling.TotalMilliseconds, PressureStepMs);
        _sustainedPressureCeilingMs = Math.Max((long)sustainedPressureCeiling.TotalMilliseconds, _pressureCeilingMs);
        _inlineAnswerLimitMs = (long)Math.Min(storeTimeout.TotalMilliseconds / 4, MaxInlineAnswerTime.TotalMilliseconds);
        _onSystemClock = timeProvider == TimeProvider.System;
        _timeProvider = timeProvider;
        _known = CircuitStateCache.For(store, circuitId);
        _logger = logger;
        _telemetry = telemetry;
        _onStateStoreFailure = onStateStoreFailure;
        _startSharedRead = StartSharedRead;
        _metrics = new CircuitStoreMetrics(store, timeProvider);
    }

    public string CircuitId => _circuitId;

    public TimeSpan StoreTimeout { get; }

    /// <summary>Gets a value indicating whether the store shows pressure that fast answers have not yet relaxed (timeouts, throttling, slow answers).</summary>
    public bool UnderPressure => Volatile.Read(ref _pressureMs) > 0;

    /// <summary>Gets a value indicating whether a read may be answered from memory now: a cache, or a read interval stretched under pressure.</summary>
    public bool Caches => _cacheTtlMs > 0 || UnderPressure;

    /// <summary>
    /// Gets how long the store may take to answer this process once while it keeps asking: its longest read interval (the
    /// ceiling, or longer while pressure has stretched it past) plus one store timeout. A refusal or two within that is no
    /// sign the store cannot answer the fleet: under pressure a fleet's reads are spread over up to the ceiling. While the
    /// store's last sign of pressure was a throttling error, the sustained ceiling plus one store timeout: a store that
    /// throttles is answering the rest of the fleet (the claim of the fleet's probe most likely among them), whose reads
    /// may be spread that far, and a process that joined the fleet late has not stretched its own interval that far yet
    /// (in the simulation's cold fleet of 50,000 environments, hundreds of them probed for themselves 2.5 s past a break
    /// whose probe held the lease). A timeout says less (the store may be down) and keeps the shorter wait.
    /// </summary>
    public long AnswerWithinMs =>
        (_lastPressureThrottled && UnderPressure ? _sustainedPressureCeilingMs : LongestReadIntervalMs) + (long)StoreTimeout.TotalMilliseconds;

    /// <summary>Gets when (monotonic ms) the store last answered this process for the circuit; <see cref="long.MinValue"/> when it never did.</summary>
    public long LastAnsweredMonoMs => _known.LastAnsweredMonoMs;

    /// <summary>Gets the last state this process saw for the circuit, however old.</summary>
    public StoredCircuit? LastKnown => _known.LastKnown;

    /// <summary>
    /// Gets a value indicating whether a check now would ask the store: the known state is not fresh, no read is in flight,
    /// and no read interval under pressure holds the next read back.
    /// </summary>
    public bool ReadDue
    {
        get
        {
            var now = NowMonoMs();
            return !_known.ReadInFlight && !(Caches && _known.TryGetFresh(now, FreshForMs(), _timeProvider, out _)) && !WithinReadInterval(now);
        }
    }

    /// <summary>
    /// Gets how long this process holds back a request it would make of its own accord (a failure count, a claim of the
    /// probe) while the store shows pressure: until one read interval has passed since its last request started. Under
    /// pressure a process puts one request per interval on the store, whatever its kind, and the answer tells it the state.
    /// Zero when the request is due.
    /// </summary>
    public long RequestDueInMs =>
        Volatile.Read(ref _pressureMs) is > 0 and var pressure
            ? Math.Max(0, Volatile.Read(ref _lastReadStartedMonoMs) + ReadIntervalMs(pressure) - NowMonoMs())
            : 0;

    /// <summary>
    /// Gets how long a process whose store shows this pressure may hold a request back (the longest jittered interval),
    /// which is how long the counts of a fleet's failures of one moment may take to reach the store; zero without pressure.
    /// </summary>
    public long RequestsHeldUpToMs =>
        Volatile.Read(ref _pressureMs) is > 0 and var pressure ? Math.Min(pressure * MostIntervalPermille / 1_000, _sustainedPressureCeilingMs) : 0;

    /// <summary>
    /// A task that completes when <see cref="RequestDueInMs"/> has passed, for a request held back until then;
    /// <see langword="null"/> when the request is due now. No read is sent while a request is held: it goes when the held
    /// one does, and that one's answer tells the state.
    /// </summary>
    public Task? UntilRequestDue()
    {
        if (RequestDueInMs is not (> 0 and var dueInMs))
        {
            return null;
        }

        Interlocked.Increment(ref _requestsHeld);
        return DelayAsync(TimeSpan.FromMilliseconds(dueInMs)).ContinueWith(
            static (_, gateway) => Interlocked.Decrement(ref ((CircuitStoreGateway)gateway!)._requestsHeld),
            this,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    /// <summary>
    /// Gets the last state a store answer showed when it is an OPEN whose break runs (or an isolation): the fleet rejects
    /// calls now. An OPEN that only this process's uncounted failures made does not count: the store has not said it.
    /// </summary>
    public StoredCircuit? StoredOpenInBreak =>
        LastAnswered is { Snapshot: { State: StoredCircuitState.Open } open } shown && (open.IsIsolated || NowMs() < open.NextAttemptUnixMs)
            ? shown
            : null;

    /// <summary>Gets the last state a store answer showed; <see langword="null"/> when the last known state is one this process's uncounted failures made.</summary>
    public StoredCircuit? LastAnswered => _known.LastKnownIsLocal ? null : _known.LastKnown;

    public long NowMs() => _timeProvider.GetUtcNow().ToUnixTimeMilliseconds();

    public StoreBudget StartBudget(TimeSpan allowed, CancellationToken cancellationToken) => new(_timeProvider.GetTimestamp(), allowed, cancellationToken);

    public TimeSpan Remaining(StoreBudget budget) => budget.Remaining(_timeProvider);

    /// <summary>How long ago this process first saw the probe lease that <paramref name="snapshot"/> holds, if it did.</summary>
    public long? LeaseSeenAgoMs(CircuitSnapshot snapshot) => _known.LeaseSeenAgoMs(snapshot, NowMonoMs());

    /// <summary>Applies a change the store could not record to the last state this process knows; the state when it opened the circuit.</summary>
    /// <param name="change">The change.</param>
    /// <param name="unlessAnsweredAfterRequest">See <see cref="KnownCircuitState.ApplyLocally"/>.</param>
    public CircuitSnapshot? ApplyLocally(Func<CircuitSnapshot, CircuitSnapshot?> change, long unlessAnsweredAfterRequest = long.MaxValue) =>
        _known.ApplyLocally(change, NowMonoMs(), unlessAnsweredAfterRequest);

    /// <summary>Gets the number of the last store request this process started for the circuit (see <see cref="ApplyLocally"/>).</summary>
    public long RequestsStarted => _known.RequestsStarted;

    /// <summary>
    /// The state a check may act on at once, with no wait: a fresh cached entry, or the answer of a store that answered
    /// inline. Otherwise the read has started (when the store did not answer inline) and <see cref="TryReadAsync"/> joins it.
    /// </summary>
    public bool TryReadAtOnce(out StoredCircuit entry)
    {
        if (Caches)
        {
            return _known.TryGetFresh(NowMonoMs(), FreshForMs(), _timeProvider, out entry);
        }

        if (_answersInline && TryReadInline(out entry))
        {
            return true;
        }

        entry = null!;
        return false;
    }

    /// <summary>
    /// Reads the circuit: from the cache when it is fresh, else by joining the read in flight or starting one;
    /// <paramref name="pastCache"/> reads on a request of its own. <see langword="null"/> when the store failed.
    /// </summary>
    public async ValueTask<StoredCircuit?> TryReadAsync(ResilienceContext context, StoreBudget budget, bool pastCache)
    {
        try
        {
            StoredCircuit entry;
            if (pastCache)
            {
                var started = StartRequest();
                entry = await CallAsync(CircuitStateStoreOperation.Read, ReadOperation, budget).ConfigureAwait(false);
                Apply(entry, started, fresh: true);
            }
            else if (Caches && _known.TryGetFresh(NowMonoMs(), FreshForMs(), _timeProvider, out entry))
            {
                return entry;
            }
            else if (WithinReadInterval(NowMonoMs()))
            {
                // The store is under pressure and was read less than an interval ago: act on the last state known.
                return null;
            }
            else
            {
                var remaining = Remaining(budget);
                ThrowIfSpent(remaining);
                try
                {
                    entry = await _known.JoinOrStartRead(_startSharedRead).WaitAsync(remaining, _timeProvider, budget.CancellationToken).ConfigureAwait(false);
                }
                catch (TimeoutException ex)
                {
                    throw DidNotAnswer(ex);
                }
            }

            if (entry.MalformedReason is { } reason && _logger is not null)
            {
                DistributedCircuitBreakerLog.MalformedState(_logger, _circuitId, reason);
            }

            return entry;
        }
        catch (Exception ex) when (!IsCallerCancellation(ex, budget))
        {
            await ReportFailureAsync(context, CircuitStateStoreOperation.Read, ex).ConfigureAwait(context.ContinueOnCapturedContext);
            return null;
        }
    }

    /// <summary>Writes the state unless a newer one is stored: <see langword="true"/> written, <see langword="false"/> skipped, <see langword="null"/> when the store failed.</summary>
    public async ValueTask<bool?> TryWriteAsync(ResilienceContext context, StoreBudget budget, CircuitSnapshot next)
    {
        try
        {
            var started = StartRequest();
            var written = await CallAsync(CircuitStateStoreOperation.Write, ct => _store.WriteAsync(_circuitId, next, ct), budget).ConfigureAwait(false);
            if (written)
            {
                Apply(new StoredCircuit(next, true, null), started, fresh: false);
            }

            return written;
        }
        catch (Exception ex) when (!IsCallerCancellation(ex, budget))
        {
            await ReportFailureAsync(context, CircuitStateStoreOperation.Write, ex).ConfigureAwait(context.ContinueOnCapturedContext);
            return null;
        }
    }

    /// <summary>Compare-and-set; <paramref name="onLate"/> gets an answer that arrives after the call stopped waiting.</summary>
    public ValueTask<CircuitWriteResult?> TryReplaceAsync(
        ResilienceContext context,
        StoreBudget budget,
        StoredCircuit expected,
        CircuitSnapshot next,
        Action<CircuitWriteResult>? onLate = null) =>
        TryConditionalAsync(
            context,
            budget,
            CircuitStateStoreOperation.Replace,
            ct => _store.TryReplaceAsync(_circuitId, expected, next, ct),
            static result => result.Current,
            onLate,
            stopOnTimeout: true);

    /// <summary>Claims the probe lease; <paramref name="onLate"/> gets an answer that arrives after the call stopped waiting.</summary>
    public ValueTask<CircuitWriteResult?> TryClaimProbeAsync(
        ResilienceContext context,
        StoreBudget budget,
        string owner,
        long leaseExpiresUnixMs,
        long now,
        Action<CircuitWriteResult>? onLate = null) =>
        TryConditionalAsync(
            context,
            budget,
            CircuitStateStoreOperation.ClaimProbe,
            ct => _store.TryClaimProbeAsync(_circuitId, owner, leaseExpiresUnixMs, now, ct),
            static result => result.Current,
            onLate,
            stopOnTimeout: true);

    /// <summary>
    /// Counts a failure; <paramref name="onLate"/> gets an answer that arrives after the call stopped waiting. A count is
    /// commutative and conditional on a closed circuit in its window, so one that lands after the call stopped waiting is
    /// still right: unlike other requests, it is not stopped when the call's store time runs out, only when its caller cancels.
    /// </summary>
    public ValueTask<CircuitIncrementResult?> TryIncrementFailureAsync(
        ResilienceContext context,
        StoreBudget budget,
        CircuitFailureIncrement increment,
        Action<CircuitIncrementResult> onLate) =>
        TryConditionalAsync(
            context,
            budget,
            CircuitStateStoreOperation.CountFailure,
            ct => _store.TryIncrementFailureAsync(_circuitId, increment, ct),
            static result => result.Current,
            onLate,
            stopOnTimeout: false);

    /// <summary>
    /// Waits for work shared with other calls (a failure count in flight) within what is left of the call's budget:
    /// whether it ended in time. The caller's cancellation ends the wait at once.
    /// </summary>
    public async ValueTask<bool> WaitWithinAsync(Task shared, StoreBudget budget)
    {
        var remaining = Remaining(budget);
        if (remaining <= TimeSpan.Zero)
        {
            return shared.IsCompleted;
        }

        try
        {
            await shared.WaitAsync(remaining, _timeProvider, budget.CancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    /// <summary>As <see cref="WaitWithinAsync(Task, StoreBudget)"/> for work with an answer (a batch of failure counts): the answer too.</summary>
    public async ValueTask<(bool Answered, T? Answer)> WaitWithinAsync<T>(Task<T> shared, StoreBudget budget) =>
        await WaitWithinAsync((Task)shared, budget).ConfigureAwait(false) ? (true, await shared.ConfigureAwait(false)) : (false, default);

    /// <summary>
    /// Takes the failure count whose call stopped waiting while its request was still running, if there is one: the count
    /// is in flight until that request ends.
    /// </summary>
    public Task? TakeAbandonedCount() => Interlocked.Exchange(ref _abandonedCount, null);

    /// <summary>Waits on this breaker's clock.</summary>
    public Task DelayAsync(TimeSpan delay) => Task.Delay(delay, _timeProvider);

    /// <summary>Reads the circuit for an operator, past the cache; store errors are thrown.</summary>
    public async Task<StoredCircuit> ReadOrThrowAsync(CancellationToken cancellationToken)
    {
        var started = StartRequest();
        var entry = await _metrics.Observe(CircuitStateStoreOperation.Read, _metrics.Start(), _store.ReadAsync(_circuitId, cancellationToken), cancellationToken).ConfigureAwait(false);
        Apply(entry, started, fresh: true);
        return entry;
    }

    /// <summary>Replaces the circuit for an operator if it is unchanged since <paramref name="expected"/>; store errors are thrown.</summary>
    public async Task<bool> ReplaceOrThrowAsync(StoredCircuit expected, CircuitSnapshot next, CancellationToken cancellationToken)
    {
        var started = StartRequest();
        var result = await _metrics.Observe(CircuitStateStoreOperation.Replace, _metrics.Start(), _store.TryReplaceAsync(_circuitId, expected, next, cancellationToken), cancellationToken).ConfigureAwait(false);
        if (result.Current is { } current)
        {
            Apply(current, started, fresh: true);
        }

        return result.Succeeded;
    }

    private static bool IsCallerCancellation(Exception exception, StoreBudget budget) =>
        exception is OperationCanceledException && budget.CancellationToken.IsCancellationRequested;

    private void ThrowIfSpent(TimeSpan remaining)
    {
        if (remaining <= TimeSpan.Zero)
        {
            throw new TimeoutException($"The call's store time budget of {StoreTimeout.TotalMilliseconds} ms is spent.");
        }
    }

    private TimeoutException DidNotAnswer(Exception inner) =>
        new($"The circuit state store did not answer within {StoreTimeout.TotalMilliseconds} ms, the call's store time budget.", inner);

    // The system clock's monotonic milliseconds are read the cheapest way; any other TimeProvider (a test's) is followed.
    public long NowMonoMs() => _onSystemClock ? Environment.TickCount64 : _timeProvider.GetTimestamp() * 1000 / _timeProvider.TimestampFrequency;

    private RequestStart StartRequest() => new(NowMonoMs(), _known.StartRequest());

    private void Apply(StoredCircuit entry, RequestStart started, bool fresh) => Apply(entry, started, NowMonoMs(), fresh);

    private void Apply(StoredCircuit entry, RequestStart started, long nowMonoMs, bool fresh)
    {
        _known.Apply(entry, started.MonoMs, nowMonoMs, fresh, started.Number);
        if (Volatile.Read(ref _pressureMs) is > 0 and var pressure)
        {
            if (fresh)
            {
                StartReadInterval(nowMonoMs);
            }

            if (pressure >= _pressureCeilingMs / 4 && entry.Snapshot is { State: StoredCircuitState.Open, IsIsolated: false } open)
            {
                StretchForBreak(open);
            }
        }
    }

    // An OPEN whose break runs changes before its end only by an operator's hand: a fresher read of it buys nothing. A
    // process whose reads pressure has already stretched to a quarter of the ceiling is one of a fleet that its item can
    // barely answer, and it reads no more often than the ceiling from here on (fast answers shorten that again): the
    // fleet's processes, each stretched by the refusals it happened to get, otherwise keep intervals that differ by up to
    // the ceiling, and the short ones keep the item at its limit long after the death.
    private void StretchForBreak(CircuitSnapshot open)
    {
        if (Volatile.Read(ref _pressureMs) < _pressureCeilingMs && NowMs() < open.NextAttemptUnixMs)
        {
            Volatile.Write(ref _pressureRaisedMonoMs, NowMonoMs());
            Volatile.Write(ref _pressureMs, _pressureCeilingMs);
        }
    }

    private ValueTask<StoredCircuit> ReadOperation(CancellationToken cancellationToken) => _store.ReadAsync(_circuitId, cancellationToken);

    private bool TryReadInline(out StoredCircuit entry)
    {
        // On the system clock one tick count serves as the start, the answer time and the time the answer is applied: this
        // runs on every uncached check of a store that answers from memory.
        var blockedSince = Environment.TickCount64;
        var started = new RequestStart(_onSystemClock ? blockedSince : NowMonoMs(), _known.StartRequest());
        var measured = _metrics.Start();
        ValueTask<StoredCircuit> pending;
        try
        {
            pending = _store.ReadAsync(_circuitId, CancellationToken.None);
        }
#pragma warning disable CA1031 // The store's error is reported by the read that follows on the thread pool.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            _metrics.Failed(CircuitStateStoreOperation.Read, measured, ex, CancellationToken.None);
            _answersInline = false;
            entry = null!;
            return false;
        }

        var answeredAt = Environment.TickCount64;
        _ = NoteInlineAnswer(pending.IsCompletedSuccessfully, blockedSince, answeredAt);
        var answer = _metrics.Observe(CircuitStateStoreOperation.Read, measured, pending, CancellationToken.None);
        if (answer.IsCompletedSuccessfully)
        {
            entry = answer.Result;
            Apply(entry, started, _onSystemClock ? answeredAt : NowMonoMs(), fresh: true);
            return true;
        }

        // The read has started: it becomes the read in flight, which the slower path joins (unless another is in flight).
        LeaveInFlight(answer, started);
        entry = null!;
        return false;
    }

    // Kept out of TryReadInline: the closure over the read would otherwise be allocated on every inline read.
    private void LeaveInFlight(ValueTask<StoredCircuit> pending, RequestStart started)
    {
        var read = AppliedAsync(pending, started);
        _ = read.ContinueWith(static t => t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        _known.JoinOrStartRead(() => read);
    }

    // Not any one caller's: each waits for it within its own budget, and the read itself runs on until it is answered, for
    // at most the longest read interval (at least StoreTimeout). A store that is slow to answer is slow because requests
    // queue, and an abandoned request still takes its turn there (an HTTP server serves a request whose client went
    // away), so a read stopped at the caller's budget and sent again next interval would keep that queue full for good.
    // Kept in flight, it stays the one read of this process that later checks join, and its answer, late or not, tells
    // the process the state: a fleet then puts at most one read per process in the store's queue.
    private Task<StoredCircuit> StartSharedRead()
    {
        var budget = StartBudget(LongestInFlight, CancellationToken.None);
        var started = StartRequest();
        var pending = CallAsync(CircuitStateStoreOperation.Read, ReadOperation, budget);
        return AppliedAsync(pending, started);
    }

    private async Task<StoredCircuit> AppliedAsync(ValueTask<StoredCircuit> pending, RequestStart started)
    {
        var entry = await pending.ConfigureAwait(false);
        Apply(entry, started, fresh: true);
        return entry;
    }

    private async ValueTask<TResult?> TryConditionalAsync<TResult>(
        ResilienceContext context,
        StoreBudget budget,
        CircuitStateStoreOperation operation,
        Func<CancellationToken, ValueTask<TResult>> request,
        Func<TResult, StoredCircuit?> storedAfter,
        Action<TResult>? onLate,
        bool stopOnTimeout)
        where TResult : struct
    {
        var started = StartRequest();
        try
        {
            var result = await CallAsync(operation, request, budget, late => ApplyLate(late, started, storedAfter, onLate), stopOnTimeout).ConfigureAwait(false);
            if (storedAfter(result) is { } current)
            {
                Apply(current, started, fresh: true);
            }

            return result;
        }
        catch (Exception ex) when (!IsCallerCancellation(ex, budget))
        {
            await ReportFailureAsync(context, operation, ex).ConfigureAwait(context.ContinueOnCapturedContext);
            return null;
        }
    }

    private void ApplyLate<TResult>(TResult late, RequestStart started, Func<TResult, StoredCircuit?> storedAfter, Action<TResult>? onLate)
    {
        if (storedAfter(late) is { } current)
        {
            Apply(current, started, fresh: false);
        }

        onLate?.Invoke(late);
    }

    /// <summary>
    /// Runs one store request within what is left of <paramref name="budget"/>. On the caller's cancellation its token is
    /// cancelled so that the request stops as soon as the client allows; on timeout it runs on, for up to the longest read
    /// interval unless <paramref name="stopOnTimeout"/> is <see langword="false"/>. An answer that still arrives goes to
    /// <paramref name="onLate"/>, and a late fault is observed.
    /// </summary>
    private ValueTask<T> CallAsync<T>(CircuitStateStoreOperation operation, Func<CancellationToken, ValueTask<T>> request, StoreBudget budget, Action<T>? onLate = null, bool stopOnTimeout = true)
    {
        var remaining = Remaining(budget);
        ThrowIfSpent(remaining);
        budget.CancellationToken.ThrowIfCancellationRequested();

        StartReadInterval(NowMonoMs());
        var measured = _metrics.Start();
        if (_answersInline)
        {
            var blockedSince = Environment.TickCount64;
            var pending = _metrics.Invoke(operation, measured, request, budget.CancellationToken);
            if (NoteInlineAnswer(pending.IsCompletedSuccessfully, blockedSince))
            {
                RelaxPressure();
            }

            if (pending.IsCompleted)
            {
                return _metrics.Observe(operation, measured, pending, budget.CancellationToken);
            }

            return _metrics.Observe(operation, measured, new ValueTask<T>(WaitAsync(_ => pending, remaining, onLate, onThreadPool: false, stopOnTimeout, budget.CancellationToken)), budget.CancellationToken);
        }

        return _metrics.Observe(operation, measured, new ValueTask<T>(WaitAsync(request, remaining, onLate, onThreadPool: true, stopOnTimeout, budget.CancellationToken)), budget.CancellationToken);
    }

    private async Task<T> WaitAsync<T>(Func<CancellationToken, ValueTask<T>> request, TimeSpan remaining, Action<T>? onLate, bool onThreadPool, bool stopOnTimeout, CancellationToken callerToken)
    {
        var abandon = CancellationTokenSource.CreateLinkedTokenSource(callerToken);
        var token = stopOnTimeout ? abandon.Token : callerToken;
        var task = onThreadPool ? Task.Run(() => StartOnThreadPool(request, token), token) : request(token).AsTask();
        var answered = false;
        var started = _timeProvider.GetTimestamp();
        try
        {
            var result = await task.WaitAsync(remaining, _timeProvider, callerToken).ConfigureAwait(false);
            answered = true;
            NoteAnswerTime(_timeProvider.GetElapsedTime(started));
            return result;
        }
        catch (Exception ex) when (ex is TimeoutException || (ex is OperationCanceledException && !callerToken.IsCancellationRequested))
        {
            throw DidNotAnswer(ex);
        }
        finally
        {
            // A request that failed has ended: nothing of it is still in flight, and its error went to the caller.
            if (answered || task.IsFaulted || task.IsCanceled)
            {
                _ = task.Exception;
                abandon.Dispose();
            }
            else
            {
                // Until it ends (for up to the longest read interval), no read is sent: it waits in the store's queue,
                // and its answer tells the state.
                Interlocked.Increment(ref _requestsRunningLate);
                _ = task.WaitAsync(LongestInFlight, _timeProvider, CancellationToken.None).ContinueWith(
                    static (waited, gateway) =>
                    {
                        _ = waited.Exception;
                        Interlocked.Decrement(ref ((CircuitStoreGateway)gateway!)._requestsRunningLate);
                    },
                    this,
                    CancellationToken.None,
                    TaskContinuationOptions.ExecuteSynchronously,
                    TaskScheduler.Default);

                // A late answer shows how long the requests of the fleet wait in the store's queue: the interval
                // stretches to twice that at once, up to the ceiling (an answer held back by an outage, a failover,
                // says less of the queue after it; pressure that lasts stretches it further, once per interval).
                _ = task.ContinueWith(
                    t =>
                    {
                        if (t.IsCompletedSuccessfully)
                        {
                            NotePressure(queued: true, atLeastMs: Math.Min(2 * (long)_timeProvider.GetElapsedTime(started).TotalMilliseconds, _pressureCeilingMs));
                        }
                        else
                        {
                            _ = t.Exception;
                        }
                    },
                    CancellationToken.None,
                    TaskContinuationOptions.ExecuteSynchronously,
                    TaskScheduler.Default);

                // Settled once a late answer has been applied: a count in flight ends only then, so what follows it (the
                // failures gathered behind it) is decided on what its answer said.
                var settled = onLate is null ? task : task.ContinueWith(
                    t =>
                    {
                        if (t.IsCompletedSuccessfully)
                        {
                            onLate(t.Result);
                        }
                    },
                    CancellationToken.None,
                    TaskContinuationOptions.None,
                    TaskScheduler.Default);
                if (!stopOnTimeout)
                {
                    abandon.Dispose();
                    Volatile.Write(ref _abandonedCount, UntilEndedOrOverdue(settled));
                }
                else if (callerToken.IsCancellationRequested)
                {
                    await abandon.CancelAsync().ConfigureAwait(false);
                    abandon.Dispose();
                }
                else
                {
                    _ = StopWhenOverdueAsync(task, abandon);
                }
            }
        }
    }

    // A request whose call stopped waiting (and did not cancel) runs on for up to the longest read interval: stopped at
    // once, it would be served all the same by a store whose requests queue, and its answer lost; a probe claim would
    // then hold a lease that nobody knows of until it expires.
    private async Task StopWhenOverdueAsync(Task request, CancellationTokenSource abandon)
    {
        using (abandon)
        {
            try
            {
                await request.WaitAsync(LongestInFlight, _timeProvider).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                await abandon.CancelAsync().ConfigureAwait(false);
            }
#pragma warning disable CA1031 // The request's own failure is observed where it was started.
            catch (Exception)
#pragma warning restore CA1031
            {
            }
        }
    }

    // A count whose call stopped waiting stays in flight until its request ends, but no longer than the longest read
    // interval (at least StoreTimeout): a request that never ends (a client without a timeout of its own, a lost answer on
    // a connection left open) would otherwise keep every later failure of this process from reaching the store. On a
    // store that already showed pressure, up to the sustained ceiling: its requests queue, the count's answer comes in its
    // turn, and the failures gathered behind it are decided on that answer (most often the fleet's OPEN, which counts
    // none of them) instead of joining the queue as a second count per environment (on dynalite, 800 of 1,000
    // environments sent theirs three seconds after the death, while their first counts still waited).
    // The timer of the wait goes as soon as the request ends, and the wait's own timeout is observed here.
    private Task UntilEndedOrOverdue(Task request) =>
        request.WaitAsync(UnderPressure ? TimeSpan.FromMilliseconds(_sustainedPressureCeilingMs) : LongestInFlight, _timeProvider)
            .ContinueWith(static waited => { _ = waited.Exception; }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    private Task<T> StartOnThreadPool<T>(Func<CancellationToken, ValueTask<T>> request, CancellationToken token)
    {
        var blockedSince = Environment.TickCount64;
        var pending = request(token);
        _ = NoteInlineAnswer(pending.IsCompletedSuccessfully, blockedSince);
        return pending.AsTask();
    }

    // Measured on the machine's monotonic clock whatever the TimeProvider: this is how long the store held the calling thread.
    private bool NoteInlineAnswer(bool answered, long blockedSinceMs) => NoteInlineAnswer(answered, blockedSinceMs, Environment.TickCount64);

    private bool NoteInlineAnswer(bool answered, long blockedSinceMs, long answeredAtMs) =>
        _answersInline = answered && answeredAtMs - blockedSinceMs < _inlineAnswerLimitMs;

    // Under pressure the next request (a read, or a count or claim held back until it is due) waits one interval (jittered
    // anew) from the last request, whoever made it and however it ended, or from the last answer that showed the stored
    // state (a failure count's, a claim's): a fleet's failures all reach the store in the second the dependency dies, and
    // their answers tell each process the same OPEN at once. Timing reads from the last shared read alone brought every
    // process back to the store together when that OPEN's break ended; sending counts and claims at once, whatever the
    // interval, put a second request per process in the queue of a store that could not answer the first (on dynalite,
    // ten seconds of timeouts after the death).
    private void StartReadInterval(long nowMonoMs)
    {
        Volatile.Write(ref _lastReadStartedMonoMs, nowMonoMs);
        Volatile.Write(ref _intervalJitterPermille, Random.Shared.Next(FewestIntervalPermille, MostIntervalPermille + 1));
    }

    // A cache TTL or a read interval stretched under pressure, whichever is longer. The interval is jittered by a factor
    // drawn once per read (between 0.5 and 1.5), not once per check: a busy process checks many times per interval, and
    // the earliest of many draws would bring every process of a fleet back to reading in step. The spread is wide because
    // a fleet learns an OPEN within a fraction of an interval, and its next reads come in that same wave until the jitter
    // has spread them: at 0.75 to 1.25 the first waves at 10,000 environments still overran the item's read budget.
    private long FreshForMs()
    {
        var pressure = Volatile.Read(ref _pressureMs);
        return pressure == 0 ? _cacheTtlMs : Math.Max(_cacheTtlMs, ReadIntervalMs(pressure));
    }

    // The ceiling, or longer while pressure has stretched the interval past it (jitter included).
    private long LongestReadIntervalMs =>
        Math.Max(_pressureCeilingMs, Math.Min(Volatile.Read(ref _pressureMs) * MostIntervalPermille / 1_000, _sustainedPressureCeilingMs));

    // How long a request no caller waits for any more stays this process's one request of its kind in flight.
    private TimeSpan LongestInFlight => TimeSpan.FromMilliseconds(Math.Max(LongestReadIntervalMs, (long)StoreTimeout.TotalMilliseconds));

    // A slow answer or a timeout comes from a store whose requests queue: each request a process sends meanwhile waits
    // behind the ones before it, and costs its caller that wait. Reads are then spaced out at once by twice StoreTimeout
    // (the ceiling at most), not from the first step up: at a 100 ms step a process needs five slow answers, seconds of
    // them, to reach the ceiling, and a fleet's queue grows all that time. A throttling refusal, answered at once, starts
    // from the first step.
    private long QueuedPressureMs => 2 * (long)StoreTimeout.TotalMilliseconds;

    // The store is under pressure and was asked less than an interval ago, or a request is held back until one has
    // passed, or one whose call stopped waiting still runs.
    private bool WithinReadInterval(long nowMonoMs) =>
        Volatile.Read(ref _pressureMs) is > 0 and var pressure
        && (nowMonoMs - Volatile.Read(ref _lastReadStartedMonoMs) < ReadIntervalMs(pressure)
            || Volatile.Read(ref _requestsHeld) > 0
            || Volatile.Read(ref _requestsRunningLate) > 0);

    private long ReadIntervalMs(long pressureMs) => Math.Min(pressureMs * Volatile.Read(ref _intervalJitterPermille) / 1_000, _sustainedPressureCeilingMs);

    // Slow answers, timeouts and throttling stretch the read interval; fast answers shorten it again. An answer that took
    // an eighth of StoreTimeout (62 ms by default, several times a healthy DynamoDB round trip), and at least 25 ms (no
    // networked store's healthy round trip), already comes from a store whose requests queue: a fleet whose reads wait
    // that long when its dependency is healthy has no room left for the burst of counts its dependency's death brings (on
    // dynalite, fleets whose reads took 110 to 250 ms sent every environment's count at once, and the queue of the death
    // outlasted its second). Answers between half of that and that change nothing.
    private void NoteAnswerTime(TimeSpan elapsed)
    {
        var slow = TimeSpan.FromTicks(Math.Max(StoreTimeout.Ticks / 8, QueuedAnswerFloor.Ticks));
        if (elapsed > slow)
        {
            _lastPressureThrottled = false;
            NotePressure(queued: true, atLeastMs: 2 * (long)elapsed.TotalMilliseconds);
        }
        else if (elapsed < slow / 2)
        {
            RelaxPressure();
        }
    }

    // A fleet whose item is at its limit is throttled again as soon as its processes read faster, so each fast answer
    // shortens the interval by only 1/200: one throttled answer (which doubles it) outweighs about 140 fast ones, and a
    // fleet settles where fewer than 1 % of its requests are throttled. Back from the ceiling in a few hundred reads.
    private void RelaxPressure()
    {
        if (Volatile.Read(ref _pressureMs) is > 0 and var pressure)
        {
            var relaxed = pressure - Math.Max(1, pressure / 200);
            Volatile.Write(ref _pressureMs, relaxed < PressureStepMs ? 0 : relaxed);
        }
    }

    // Up to the ceiling the interval doubles at each sign of pressure. Past it, pressure doubles it at most once per
    // interval, up to the sustained ceiling: a fleet too large for its store at the ceiling (more environments than the
    // store answers in one interval) keeps backing off until it fits, while the refusals of one burst (every
    // environment's failure counted in the same second) stretch it once. An interval that fast answers relaxed to just
    // under the ceiling (within an eighth of it, about 27 fast answers) counts as at the ceiling: otherwise one fast answer
    // between refusals would hold it there for good, and a fleet whose item refuses a few percent of its reads would never
    // back off further.
    // An answer that took a while (atLeastMs is twice its time) stretches the interval to at least that, up to the
    // sustained ceiling, at once: a process whose one read in flight took that long is one of a fleet whose reads fill the
    // store's queue for about that long, and reading again sooner only keeps it full.
    private void NotePressure(bool queued, long atLeastMs = 0)
    {
        var pressure = Volatile.Read(ref _pressureMs);
        var now = NowMonoMs();
        long stretched;
        if (pressure < _pressureCeilingMs - (_pressureCeilingMs / 8))
        {
            stretched = Math.Min(Math.Max(pressure * 2, queued ? QueuedPressureMs : PressureStepMs), _pressureCeilingMs);
        }
        else if (now - Volatile.Read(ref _pressureRaisedMonoMs) >= pressure)
        {
            stretched = Math.Min(Math.Max(pressure * 2, _pressureCeilingMs), _sustainedPressureCeilingMs);
        }
        else
        {
            stretched = Math.Max(pressure, _pressureCeilingMs);
        }

        stretched = Math.Max(stretched, Math.Min(atLeastMs, _sustainedPressureCeilingMs));
        if (stretched == pressure)
        {
            return;
        }

        Volatile.Write(ref _pressureRaisedMonoMs, now);
        Volatile.Write(ref _pressureMs, stretched);
    }

    private static bool ShowsPressure(Exception exception) =>
        exception is TimeoutException
        || exception is CircuitStateStoreException { Kind: CircuitStateStoreFailureKind.Timeout or CircuitStateStoreFailureKind.Throttled };

    private async ValueTask ReportFailureAsync(ResilienceContext context, CircuitStateStoreOperation operation, Exception exception)
    {
        if (ShowsPressure(exception))
        {
            var throttled = exception is CircuitStateStoreException { Kind: CircuitStateStoreFailureKind.Throttled };
            _lastPressureThrottled = throttled;
            NotePressure(queued: !throttled);
        }

        if (operation == CircuitStateStoreOperation.Read)
        {
            StartReadInterval(NowMonoMs());
        }

        _known.EndFreshness();

        // One log line per failure: with a logger of its own the breaker writes the detailed line, and Polly's telemetry
        // (which logs events by severity) still counts the event but does not log it again.
        var severity = ResilienceEventSeverity.Warning;
        if (_logger is not null)
        {
            DistributedCircuitBreakerLog.StoreFailed(_logger, _circuitId, operation, exception.Message, exception);
            severity = ResilienceEventSeverity.None;
        }

        var args = new OnCircuitStateStoreFailureArguments(context, _circuitId, operation, exception);
        _telemetry.Report(new ResilienceEvent(severity, DistributedCircuitBreakerEvents.OnCircuitStateStoreFailure), context, args);
        if (_onStateStoreFailure is { } callback)
        {
            await callback(args).ConfigureAwait(context.ContinueOnCapturedContext);
        }
    }

    /// <summary>When a store request started, and its number: what its answer is ordered by.</summary>
    private readonly record struct RequestStart(long MonoMs, long Number);
}
