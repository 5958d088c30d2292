namespace Polly.Distributed.CircuitBreaker.Controller;

/// <summary>
/// Keeps at most one failure count of a circuit in flight from this process. A failure that finds none in flight is sent
/// by its own call, when its turn has come; the failures that arrive while one is in flight or before the turn join one
/// batch, sent as a single count that carries how many as soon as the request in flight ends and the turn comes. However
/// many callers a busy process serves, it puts about one count per round trip on the circuit's item (under pressure, one
/// per read interval).
/// </summary>
internal sealed class FailureCountQueue
{
    private readonly object _gate = new();
    private readonly Func<long, Task<CircuitIncrementResult?>> _sendBatch;
    private readonly Func<Task> _waitForTurn;
    private bool _inFlight;
    private Batch? _waiting;

    /// <param name="sendBatch">Sends one count carrying the given number of failures, with no caller waiting on its own budget.</param>
    /// <param name="waitForTurn">Completes when this process may send its next count; the failures that arrive meanwhile join the batch.</param>
    public FailureCountQueue(Func<long, Task<CircuitIncrementResult?>> sendBatch, Func<Task> waitForTurn)
    {
        _sendBatch = sendBatch;
        _waitForTurn = waitForTurn;
    }

    /// <summary>
    /// Starts a count for the calling failure when none is in flight and <paramref name="mayStart"/> (<see langword="true"/>:
    /// the caller sends it and then calls <see cref="End"/>), or adds the failure to the batch that follows the count in flight.
    /// </summary>
    /// <param name="mayStart">Whether the caller may send its count now; otherwise the batch it joins is sent in its turn.</param>
    /// <param name="batched">The answer of the batch the failure joined (<see langword="null"/> in it when the store failed).</param>
    public bool TryStartOrJoin(bool mayStart, out Task<CircuitIncrementResult?> batched)
    {
        var startBatch = false;
        lock (_gate)
        {
            if (!_inFlight && mayStart)
            {
                _inFlight = true;
                batched = null!;
                return true;
            }

            _waiting ??= new Batch();
            _waiting.Failures++;
            batched = _waiting.Answer.Task;
            if (!_inFlight)
            {
                _inFlight = true;
                startBatch = true;
            }
        }

        if (startBatch)
        {
            _ = SendWaitingAsync();
        }

        return false;
    }

    /// <summary>Ends the count in flight, and sends the batch that gathered meanwhile, if any, in its turn.</summary>
    public void End()
    {
        bool more;
        lock (_gate)
        {
            more = _waiting is not null;
            _inFlight = more;
        }

        if (more)
        {
            _ = SendWaitingAsync();
        }
    }

    private async Task SendWaitingAsync()
    {
        Batch? batch = null;
        try
        {
            await _waitForTurn().ConfigureAwait(false);
            lock (_gate)
            {
                batch = _waiting!;
                _waiting = null;
            }

            batch.Answer.TrySetResult(await _sendBatch(batch.Failures).ConfigureAwait(false));
        }
#pragma warning disable CA1031 // The batch's waiters get no answer, as from a store failure; the gateway reported it.
        catch (Exception)
#pragma warning restore CA1031
        {
            batch?.Answer.TrySetResult(null);
        }
        finally
        {
            End();
        }
    }

    private sealed class Batch
    {
        public long Failures { get; set; }

        public TaskCompletionSource<CircuitIncrementResult?> Answer { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
