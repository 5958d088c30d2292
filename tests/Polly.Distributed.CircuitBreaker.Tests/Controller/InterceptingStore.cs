namespace Polly.Distributed.CircuitBreaker.Tests.Controller;

/// <summary>
/// A store instance of its own (so its breakers get a cache of their own, as another process has) over a shared store,
/// whose requests a test can delay or precede with another writer's change.
/// </summary>
internal sealed class InterceptingStore(ICircuitStateStore inner) : ICircuitStateStore
{
    /// <summary>Runs before each last-writer-wins write reaches the store.</summary>
    public Func<Task>? BeforeWrite { get; set; }

    /// <summary>Delays conditional writes and counts, ignoring cancellation, and applies them after the delay as Redis does.</summary>
    public TimeSpan ConditionalDelay { get; set; }

    /// <summary>Holds conditional writes and counts, ignoring cancellation, until the test completes it; then applies them.</summary>
    public TaskCompletionSource? ConditionalGate { get; set; }

    /// <summary>How many of the next compare-and-set writes the store refuses as throttled.</summary>
    public int ReplacesToRefuse { get; set; }

    /// <summary>Reports a count that reaches the threshold (<see cref="CircuitFailureIncrement.ThresholdReached"/>) before it is delayed and applied.</summary>
    public bool ReportsThresholdReached { get; set; }

    /// <summary>How many of the next failure counts the store refuses as throttled.</summary>
    public int CountsToRefuse { get; set; }

    /// <summary>Delays reads, ignoring cancellation.</summary>
    public TimeSpan ReadDelay { get; set; }

    /// <summary>Makes reads fail after <see cref="ReadDelay"/>.</summary>
    public bool ReadsFail { get; set; }

    /// <summary>Why a failed read failed, as the store tells it.</summary>
    public CircuitStateStoreFailureKind ReadFailureKind { get; set; }

    /// <summary>The message of a failed read.</summary>
    public string FailureMessage { get; set; } = "intercepted read failure";

    /// <summary>Completes when a conditional write that is delayed has been sent to the store.</summary>
    public TaskCompletionSource ConditionalStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes when a conditional write that was delayed has been applied.</summary>
    public TaskCompletionSource ConditionalApplied { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private int _readsAnswered;

    /// <summary>Gets how many reads the store has answered.</summary>
    public int ReadsAnswered => Volatile.Read(ref _readsAnswered);

    /// <summary>Gets or sets a value indicating whether a read's delay ends when its token is cancelled (the read then fails as cancelled), as an HTTP client's would.</summary>
    public bool ReadDelayHonoursCancellation { get; set; }

    /// <summary>Completes when the first read ends: <see langword="true"/> answered, <see langword="false"/> cancelled.</summary>
    public TaskCompletionSource<bool> FirstReadEnded { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public async ValueTask<StoredCircuit> ReadAsync(string circuitId, CancellationToken cancellationToken)
    {
        if (ReadDelay > TimeSpan.Zero)
        {
            try
            {
                await Task.Delay(ReadDelay, ReadDelayHonoursCancellation ? cancellationToken : CancellationToken.None);
            }
            catch (OperationCanceledException)
            {
                FirstReadEnded.TrySetResult(false);
                throw;
            }
        }

        if (ReadsFail)
        {
            throw new CircuitStateStoreException(FailureMessage) { Kind = ReadFailureKind };
        }

        var entry = await inner.ReadAsync(circuitId, cancellationToken);
        Interlocked.Increment(ref _readsAnswered);
        FirstReadEnded.TrySetResult(true);
        return entry;
    }

    public async ValueTask<bool> WriteAsync(string circuitId, CircuitSnapshot snapshot, CancellationToken cancellationToken)
    {
        if (BeforeWrite is { } before)
        {
            BeforeWrite = null;
            await before();
        }

        return await inner.WriteAsync(circuitId, snapshot, cancellationToken);
    }

    public ValueTask<CircuitWriteResult> TryReplaceAsync(string circuitId, StoredCircuit expected, CircuitSnapshot replacement, CancellationToken cancellationToken)
    {
        if (ReplacesToRefuse > 0)
        {
            ReplacesToRefuse--;
            return ValueTask.FromException<CircuitWriteResult>(new CircuitStateStoreException("ProvisionedThroughputExceededException") { Kind = CircuitStateStoreFailureKind.Throttled });
        }

        return DelayedAsync(() => inner.TryReplaceAsync(circuitId, expected, replacement, CancellationToken.None));
    }

    public ValueTask<CircuitWriteResult> TryClaimProbeAsync(string circuitId, string owner, long leaseExpiresUnixMs, long nowUnixMs, CancellationToken cancellationToken) =>
        DelayedAsync(() => inner.TryClaimProbeAsync(circuitId, owner, leaseExpiresUnixMs, nowUnixMs, CancellationToken.None));

    public ValueTask<CircuitIncrementResult> TryIncrementFailureAsync(string circuitId, CircuitFailureIncrement increment, CancellationToken cancellationToken)
    {
        if (CountsToRefuse > 0)
        {
            CountsToRefuse--;
            return ValueTask.FromException<CircuitIncrementResult>(new CircuitStateStoreException("ProvisionedThroughputExceededException") { Kind = CircuitStateStoreFailureKind.Throttled });
        }

        return ReportsThresholdReached ? ReportThenCountAsync() : DelayedAsync(() => inner.TryIncrementFailureAsync(circuitId, increment, CancellationToken.None));

        // As a store that opens in a request of its own: the count that reaches the threshold is reported before the
        // delayed (or gated) opening.
        async ValueTask<CircuitIncrementResult> ReportThenCountAsync()
        {
            var stored = (await inner.ReadAsync(circuitId, CancellationToken.None)).Snapshot;
            if (increment.ApplyTo(stored).Outcome == CircuitIncrementOutcome.CountedAndOpened)
            {
                increment.ThresholdReached?.Invoke(new StoredCircuit((increment with { FailureThreshold = long.MaxValue }).ApplyTo(stored).Next!, true, null));
            }

            return await DelayedAsync(() => inner.TryIncrementFailureAsync(circuitId, increment, CancellationToken.None));
        }
    }

    private async ValueTask<T> DelayedAsync<T>(Func<ValueTask<T>> request)
    {
        if (ConditionalDelay <= TimeSpan.Zero && ConditionalGate is null)
        {
            return await request();
        }

        // As a store's own awaits do, these continue anywhere: not on a context the calling breaker captured.
        ConditionalStarted.TrySetResult();
        await (ConditionalGate?.Task ?? Task.Delay(ConditionalDelay, CancellationToken.None)).ConfigureAwait(false);
        var result = await request().ConfigureAwait(false);
        ConditionalApplied.TrySetResult();
        return result;
    }
}
