namespace Polly.Distributed.CircuitBreaker.Controller;

/// <summary>
/// Keeps at most one failure count of a circuit in flight from this process. A failure that finds none in flight is sent
/// by its own call; the failures that arrive while one is in flight join one batch, sent as a single count that carries
/// how many as soon as the request in flight ends. However many callers a busy process serves, it puts about one count
/// per round trip on the circuit's item.
/// </summary>
internal sealed class FailureCountQueue
{
    private readonly object _gate = new();
    private readonly Func<long, Task<CircuitIncrementResult?>> _sendBatch;
    private bool _inFlight;
    private Batch? _waiting;

    /// <param name="sendBatch">Sends one count carrying the given number of failures, with no caller waiting on its own budget.</param>
    public FailureCountQueue(Func<long, Task<CircuitIncrementResult?>> sendBatch) => _sendBatch = sendBatch;

    /// <summary>
    /// Starts a count for the calling failure when none is in flight (<see langword="true"/>: the caller sends it and then
    /// calls <see cref="End"/>), or adds the failure to the batch that follows the count in flight.
    /// </summary>
    /// <param name="batched">The answer of the batch the failure joined (<see langword="null"/> in it when the store failed).</param>
    public bool TryStartOrJoin(out Task<CircuitIncrementResult?> batched)
    {
        lock (_gate)
        {
            if (!_inFlight)
            {
                _inFlight = true;
                batched = null!;
                return true;
            }

            _waiting ??= new Batch();
            _waiting.Failures++;
            batched = _waiting.Answer.Task;
            return false;
        }
    }

    /// <summary>Ends the count in flight, and sends the batch that gathered meanwhile, if any.</summary>
    public void End()
    {
        Batch? next;
        lock (_gate)
        {
            next = _waiting;
            _waiting = null;
            _inFlight = next is not null;
        }

        if (next is not null)
        {
            _ = SendAsync(next);
        }
    }

    private async Task SendAsync(Batch batch)
    {
        try
        {
            batch.Answer.TrySetResult(await _sendBatch(batch.Failures).ConfigureAwait(false));
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

        public TaskCompletionSource<CircuitIncrementResult?> Answer { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
