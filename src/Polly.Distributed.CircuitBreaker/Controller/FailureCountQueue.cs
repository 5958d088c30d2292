namespace Polly.Distributed.CircuitBreaker.Controller;

/// <summary>
/// Keeps at most one failure count of a circuit in flight from this process. A failure that finds none in flight is sent
/// by its own call; the failures that arrive while one is in flight join one batch, sent as a single count that carries
/// how many as soon as the request in flight ends. However many callers a busy process serves, it puts about one count
/// per round trip on the circuit's item. A count whose call stopped waiting is still in flight until its request ends, so
/// a store that answers late never holds more than one count of this process. While the store shows pressure a count is
/// sent only when this process's next request is due (one per read interval): the failures of that interval gather in
/// it, and nobody waits for it.
/// </summary>
internal sealed class FailureCountQueue
{
    private readonly object _gate = new();
    private readonly Func<long, long, Task<CircuitIncrementResult?>> _sendBatch;
    private readonly Func<Task?> _takeAbandonedRequest;
    private readonly Func<long, CircuitIncrementResult?> _answerWithoutSending;
    private readonly Func<Task?> _untilDue;
    private bool _inFlight;
    private Batch? _waiting;
    private TaskCompletionSource? _answering;

    /// <param name="sendBatch">
    /// Sends one count carrying the given number of failures, the last of which happened at the given time (epoch ms),
    /// with no caller waiting on its own budget.
    /// </param>
    /// <param name="takeAbandonedRequest">The request of the count just ended if it still runs after its call stopped waiting.</param>
    /// <param name="answerWithoutSending">
    /// The answer a batch whose last failure happened at the given time (epoch ms) gets instead of being sent when sending
    /// it would count nothing (the store has shown the circuit open since its failures gathered), or <see langword="null"/> to send it.
    /// </param>
    /// <param name="untilDue">
    /// A task that completes when the store may take this process's next request, or <see langword="null"/> when it may now.
    /// </param>
    public FailureCountQueue(
        Func<long, long, Task<CircuitIncrementResult?>> sendBatch,
        Func<Task?> takeAbandonedRequest,
        Func<long, CircuitIncrementResult?> answerWithoutSending,
        Func<Task?> untilDue)
    {
        _sendBatch = sendBatch;
        _takeAbandonedRequest = takeAbandonedRequest;
        _answerWithoutSending = answerWithoutSending;
        _untilDue = untilDue;
    }

    /// <summary>
    /// Gets a task that completes when the count being sent has its answer or its call stopped waiting for one (the
    /// request may still run: the count stays in flight, but a store that slow is not waited for again);
    /// <see langword="null"/> when none is being sent.
    /// </summary>
    public Task? Answering => Volatile.Read(ref _answering)?.Task;

    /// <summary>
    /// Gets a value indicating whether the count in flight is one whose call stopped waiting for its answer: the store is
    /// slower than a call's store time, and a failure that joins the next count does not wait for it either.
    /// </summary>
    public bool Overdue
    {
        get
        {
            lock (_gate)
            {
                return _inFlight && Volatile.Read(ref _answering) is null;
            }
        }
    }

    /// <summary>
    /// Starts a count for the calling failure when none is in flight and the store may take it now (<see langword="true"/>:
    /// the caller sends it and then calls <see cref="End"/>), or adds the failure to the batch that follows the count in
    /// flight, or to one held back until the store may take it (<see cref="Overdue"/>: nobody waits for it).
    /// </summary>
    /// <param name="failedAtUnixMs">When the failure happened, epoch milliseconds.</param>
    /// <param name="batched">The answer of the batch the failure joined (<see langword="null"/> in it when the store failed).</param>
    public bool TryStartOrJoin(long failedAtUnixMs, out Task<CircuitIncrementResult?> batched)
    {
        Task? due;
        lock (_gate)
        {
            if (_inFlight)
            {
                batched = Join(failedAtUnixMs).Answer.Task;
                return false;
            }

            due = StartInFlight();
            if (due is null)
            {
                batched = null!;
                return true;
            }

            batched = Join(failedAtUnixMs).Answer.Task;
        }

        _ = SendWhenDueAsync(due);
        return false;
    }

    /// <summary>
    /// Adds a failure whose call has no store time left to wait: to the batch that follows the count in flight, or as a
    /// count of its own sent as soon as the store may take it when none is in flight. Nobody waits for its answer.
    /// </summary>
    /// <param name="failedAtUnixMs">When the failure happened, epoch milliseconds.</param>
    public void AddWithoutWaiting(long failedAtUnixMs)
    {
        bool send;
        Task? due = null;
        lock (_gate)
        {
            Join(failedAtUnixMs);
            send = !_inFlight;
            if (send)
            {
                due = StartInFlight();
            }
        }

        if (send)
        {
            _ = SendWhenDueAsync(due);
        }
    }

    /// <summary>Ends the count in flight (once its request has ended), and sends the batch that gathered meanwhile, if any.</summary>
    public void End()
    {
        Interlocked.Exchange(ref _answering, null)?.TrySetResult();
        if (_takeAbandonedRequest() is { IsCompleted: false } running)
        {
            _ = running.ContinueWith(static (_, queue) => ((FailureCountQueue)queue!).End(), this, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            return;
        }

        bool send;
        Task? due = null;
        lock (_gate)
        {
            _inFlight = false;
            send = _waiting is not null;
            if (send)
            {
                due = StartInFlight();
            }
        }

        if (send)
        {
            _ = SendWhenDueAsync(due);
        }
    }

    // Under the gate: adds a failure to the batch that follows the count in flight.
    private Batch Join(long failedAtUnixMs)
    {
        var batch = _waiting ??= new Batch();
        batch.Failures++;
        batch.LastFailedAtUnixMs = Math.Max(batch.LastFailedAtUnixMs, failedAtUnixMs);
        return batch;
    }

    // Under the gate: marks a count in flight and returns when the store may take it (null: now). One sent now gets the
    // task that its answer (or its call's giving up) completes; one held back until the store may take it is overdue at
    // once, and no check waits for it.
    private Task? StartInFlight()
    {
        var due = _untilDue();
        _inFlight = true;
        Volatile.Write(ref _answering, due is null ? new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) : null);
        return due;
    }

    // Sends the waiting batch once the store may take it; the failures that arrive until then join it.
    private async Task SendWhenDueAsync(Task? due)
    {
        if (due is not null)
        {
            await due.ConfigureAwait(false);
        }

        Batch batch;
        lock (_gate)
        {
            batch = _waiting!;
            _waiting = null;
        }

        await SendAsync(batch).ConfigureAwait(false);
    }

    private async Task SendAsync(Batch batch)
    {
        try
        {
            batch.Answer.TrySetResult(_answerWithoutSending(batch.LastFailedAtUnixMs) ?? await _sendBatch(batch.Failures, batch.LastFailedAtUnixMs).ConfigureAwait(false));
        }
#pragma warning disable CA1031 // The batch's waiters get no answer, as from a store failure; the gateway reported it.
        catch (Exception)
#pragma warning restore CA1031
        {
            batch.Answer.TrySetResult(null);
        }
        finally
        {
            End();
        }
    }

    private sealed class Batch
    {
        public long Failures { get; set; }

        // A batch can wait long behind a count on a busy store: it is counted as of its failures, not of its sending, so a
        // store takes none of it once the circuit has closed since (CircuitFailureIncrement.PredatesTheEpisode).
        public long LastFailedAtUnixMs { get; set; }

        public TaskCompletionSource<CircuitIncrementResult?> Answer { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
