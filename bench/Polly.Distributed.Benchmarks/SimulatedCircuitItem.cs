using Polly.Distributed.CircuitBreaker;

namespace Polly.Distributed.Benchmarks;

/// <summary>
/// One circuit's item in a simulated store: the semantics of <see cref="InMemoryCircuitStateStore"/>, the load limits of an
/// <see cref="IItemCapacity"/>, and the requests the real provider sends for each operation. Every answer is synchronous
/// (a completed or faulted <see cref="ValueTask"/>), so the breaker calls the store inline and the run is repeatable.
/// Counts the requests (in all, from <c>measureFrom</c> on, and per second), and remembers how each environment first saw
/// the circuit OPEN.
/// </summary>
internal sealed class SimulatedCircuitItem
{
    private const int RefusedColumn = 2;

    private readonly InMemoryCircuitStateStore _items = new();
    private readonly IItemCapacity _capacity;
    private readonly TimeProvider _clock;
    private readonly DateTimeOffset _start;
    private readonly TimeSpan _measureFrom;
    private readonly ItemRequest?[] _openSeenIn;
    private readonly bool[] _sawNotClosed;
    private readonly long[][] _perSecond;
    private readonly object _gate = new();
    private string _circuitId = string.Empty;

    public SimulatedCircuitItem(IItemCapacity capacity, TimeProvider clock, int environments, TimeSpan measureFrom, TimeSpan runLength)
    {
        _capacity = capacity;
        _clock = clock;
        _start = clock.GetUtcNow();
        _measureFrom = measureFrom;
        _openSeenIn = new ItemRequest?[environments];
        _sawNotClosed = new bool[environments];
        _perSecond = [.. Enumerable.Range(0, (int)runLength.TotalSeconds + 1).Select(_ => new long[3])];
    }

    public long Reads { get; private set; }

    public long Writes { get; private set; }

    public long Refused { get; private set; }

    /// <summary>Gets when the stored circuit first became OPEN, in virtual time since the start.</summary>
    public TimeSpan? FirstOpened { get; private set; }

    /// <summary>Gets the answer in which an environment first saw the circuit OPEN, from <c>measureFrom</c> on; <see langword="null"/> when it never did.</summary>
    public IReadOnlyList<ItemRequest?> OpenSeenIn => _openSeenIn;

    /// <summary>Whether a store answer ever showed an environment the circuit OPEN or HALF-OPEN: only then can its call be a probe.</summary>
    public bool SawNotClosed(int environment)
    {
        lock (_gate)
        {
            return _sawNotClosed[environment];
        }
    }

    /// <summary>The requests of one virtual second since the start: reads, writes, and refused requests.</summary>
    public (long Reads, long Writes, long Refused) InSecond(int second)
    {
        lock (_gate)
        {
            var counts = _perSecond[second];
            return (counts[(int)ItemRequest.Read], counts[(int)ItemRequest.Write], counts[RefusedColumn]);
        }
    }

    public ICircuitStateStore ForEnvironment(int environment) => new SimulatedEnvironmentStore(this, environment);

    /// <summary>The stored state, as the simulation's observer sees it: no request, no load.</summary>
    public CircuitSnapshot Peek()
    {
        lock (_gate)
        {
            return Stored().Snapshot;
        }
    }

    public ValueTask<StoredCircuit> ReadAsync(int environment, string circuitId)
    {
        lock (_gate)
        {
            _circuitId = circuitId;
            if (Refuse(ItemRequest.Read) is { } refusal)
            {
                return ValueTask.FromException<StoredCircuit>(refusal);
            }

            var entry = Stored();
            Observe(environment, entry.Snapshot, ItemRequest.Read);
            return new(entry);
        }
    }

    public ValueTask<bool> WriteAsync(int environment, string circuitId, CircuitSnapshot snapshot)
    {
        lock (_gate)
        {
            _circuitId = circuitId;
            if (Refuse(ItemRequest.Write) is { } refusal)
            {
                return ValueTask.FromException<bool>(refusal);
            }

            var written = _items.WriteAsync(circuitId, snapshot, CancellationToken.None).Result;
            Observe(environment, written ? snapshot : null, ItemRequest.Write);
            return new(written);
        }
    }

    public ValueTask<CircuitWriteResult> TryReplaceAsync(int environment, string circuitId, StoredCircuit expected, CircuitSnapshot replacement)
    {
        lock (_gate)
        {
            _circuitId = circuitId;
            if (Refuse(ItemRequest.Write) is { } refusal)
            {
                return ValueTask.FromException<CircuitWriteResult>(refusal);
            }

            var result = _items.TryReplaceAsync(circuitId, expected, replacement, CancellationToken.None).Result;
            Observe(environment, result.Current?.Snapshot, ItemRequest.Write);
            return new(result);
        }
    }

    public ValueTask<CircuitWriteResult> TryClaimProbeAsync(int environment, string circuitId, string owner, long leaseExpiresUnixMs, long nowUnixMs)
    {
        lock (_gate)
        {
            _circuitId = circuitId;
            if (Refuse(ItemRequest.Write) is { } refusal)
            {
                return ValueTask.FromException<CircuitWriteResult>(refusal);
            }

            var result = _items.TryClaimProbeAsync(circuitId, owner, leaseExpiresUnixMs, nowUnixMs, CancellationToken.None).Result;
            Observe(environment, result.Current?.Snapshot, ItemRequest.Write);
            return new(result);
        }
    }

    /// <summary>
    /// Counts failures as the provider does. DynamoDB: when the caller's hint says this count reaches the threshold, one
    /// conditional request counts and opens on exactly that stored count; otherwise (or when the stored count moved) one
    /// request counts, and one more opens the circuit when the count reached the threshold; a count already at the threshold
    /// counts nothing. Redis: one script does it all.
    /// A request that is refused ends the operation there; what earlier requests wrote stays.
    /// </summary>
    public ValueTask<CircuitIncrementResult> TryIncrementFailureAsync(int environment, string circuitId, CircuitFailureIncrement increment)
    {
        lock (_gate)
        {
            _circuitId = circuitId;
            var result = _capacity.OpensInSeparateRequest ? CountThenOpen(increment) : CountInOneRequest(increment);
            if (result.Error is { } error)
            {
                return ValueTask.FromException<CircuitIncrementResult>(error);
            }

            Observe(environment, result.Answer.Current.Snapshot, ItemRequest.Write);
            return new(result.Answer);
        }
    }

    private (CircuitIncrementResult Answer, CircuitStateStoreException? Error) CountInOneRequest(CircuitFailureIncrement increment) =>
        Refuse(ItemRequest.Write) is { } refusal ? (default, refusal) : (Apply(increment), null);

    private (CircuitIncrementResult Answer, CircuitStateStoreException? Error) CountThenOpen(CircuitFailureIncrement increment)
    {
        var stored = Stored().Snapshot;
        if (increment.LastSeenFailureCount is { } hint && hint + increment.Count >= increment.FailureThreshold)
        {
            if (Refuse(ItemRequest.Write) is { } refusedAtOnce)
            {
                return (default, refusedAtOnce);
            }

            if (stored.State == StoredCircuitState.Closed && stored.FailureCount == hint)
            {
                return (Apply(increment), null);
            }
        }

        if (Refuse(ItemRequest.Write) is { } refusedCount)
        {
            return (default, refusedCount);
        }

        // Without a quorum, a count already at the threshold (its opening not yet written) counts nothing.
        if (increment.MinimumEnvironments <= 1 && stored.State == StoredCircuitState.Closed && stored.FailureCount >= increment.FailureThreshold
            && stored.LastFailureUnixMs >= increment.WindowStartUnixMs)
        {
            return (new CircuitIncrementResult(CircuitIncrementOutcome.NotCounted, Stored()), null);
        }

        var (outcome, _) = increment.ApplyTo(stored);
        if (outcome != CircuitIncrementOutcome.CountedAndOpened)
        {
            return (Apply(increment), null);
        }

        if (increment.MinimumEnvironments <= 1)
        {
            // The count reached the threshold; the opening is the next request.
            increment.ThresholdReached?.Invoke(new StoredCircuit((increment with { FailureThreshold = long.MaxValue }).ApplyTo(stored).Next!, true, null));
        }

        if (Refuse(ItemRequest.Write) is { } refusedOpening)
        {
            // Counted, not opened: the next count that reaches the item opens the circuit.
            Apply(increment with { FailureThreshold = long.MaxValue });
            return (default, refusedOpening);
        }

        return (Apply(increment), null);
    }

    private CircuitIncrementResult Apply(CircuitFailureIncrement increment) =>
        _items.TryIncrementFailureAsync(_circuitId, increment, CancellationToken.None).Result;

    private StoredCircuit Stored() => _items.ReadAsync(_circuitId, CancellationToken.None).Result;

    private TimeSpan Now() => _clock.GetUtcNow() - _start;

    private CircuitStateStoreException? Refuse(ItemRequest request)
    {
        var now = Now();
        var refusal = _capacity.Refuse(request, now);
        var second = _perSecond[Math.Min((int)now.TotalSeconds, _perSecond.Length - 1)];
        second[(int)request]++;
        if (refusal is not null)
        {
            second[RefusedColumn]++;
        }

        if (now >= _measureFrom)
        {
            if (request == ItemRequest.Read)
            {
                Reads++;
            }
            else
            {
                Writes++;
            }

            if (refusal is not null)
            {
                Refused++;
            }
        }

        return refusal;
    }

    private void Observe(int environment, CircuitSnapshot? answer, ItemRequest answeredBy)
    {
        var now = Now();
        if (FirstOpened is null && Stored().Snapshot.State == StoredCircuitState.Open)
        {
            FirstOpened = now;
        }

        if (answer is { State: not StoredCircuitState.Closed })
        {
            _sawNotClosed[environment] = true;
        }

        if (answer?.State == StoredCircuitState.Open && now >= _measureFrom && _openSeenIn[environment] is null)
        {
            _openSeenIn[environment] = answeredBy;
        }
    }
}
