namespace Polly.Distributed.Benchmarks;

/// <summary>
/// A clock that moves only when <see cref="Advance"/> is called, firing the timers that fall due on the way in order, on
/// the calling thread. Its timers wait in a priority queue: a simulated fleet holds one timer per environment whose store
/// request is held back under pressure, tens of thousands at a time, and finding the next due timer must not cost a scan
/// of all of them.
/// </summary>
internal sealed class VirtualClock(DateTimeOffset start) : TimeProvider
{
    private readonly object _gate = new();
    private readonly PriorityQueue<(VirtualTimer Timer, long Version), (long DueTicks, long Order)> _due = new();
    private long _elapsedTicks;
    private long _order;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override DateTimeOffset GetUtcNow() => start + TimeSpan.FromTicks(Volatile.Read(ref _elapsedTicks));

    public override long GetTimestamp() => Volatile.Read(ref _elapsedTicks);

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new VirtualTimer(this, callback, state);
        timer.Change(dueTime, period);
        return timer;
    }

    /// <summary>Moves the clock on, firing each timer when the clock reaches its due time.</summary>
    public void Advance(TimeSpan delta)
    {
        long target;
        lock (_gate)
        {
            target = _elapsedTicks + delta.Ticks;
        }

        while (true)
        {
            VirtualTimer timer;
            lock (_gate)
            {
                if (!_due.TryPeek(out var next, out var key) || key.DueTicks > target)
                {
                    Volatile.Write(ref _elapsedTicks, target);
                    return;
                }

                _due.Dequeue();
                if (next.Version != next.Timer.Version)
                {
                    continue;
                }

                timer = next.Timer;
                Volatile.Write(ref _elapsedTicks, Math.Max(_elapsedTicks, key.DueTicks));
                timer.ScheduleNextPeriod();
            }

            timer.Fire();
        }
    }

    // Under the gate: queues the timer's current version to fire at the given time from now.
    private void Schedule(VirtualTimer timer, TimeSpan dueTime) =>
        _due.Enqueue((timer, timer.Version), (_elapsedTicks + Math.Max(0, dueTime.Ticks), _order++));

    private sealed class VirtualTimer(VirtualClock clock, TimerCallback callback, object? state) : ITimer
    {
        private TimeSpan _period = global::System.Threading.Timeout.InfiniteTimeSpan;

        public long Version { get; private set; }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            lock (clock._gate)
            {
                Version++;
                _period = period;
                if (dueTime != global::System.Threading.Timeout.InfiniteTimeSpan)
                {
                    clock.Schedule(this, dueTime);
                }
            }

            return true;
        }

        public void Dispose()
        {
            lock (clock._gate)
            {
                Version++;
            }
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return default;
        }

        // Under the clock's gate, as the timer fires: a periodic timer is queued again one period on.
        public void ScheduleNextPeriod()
        {
            if (_period != global::System.Threading.Timeout.InfiniteTimeSpan && _period > TimeSpan.Zero)
            {
                clock.Schedule(this, _period);
            }
        }

        public void Fire() => callback(state);
    }
}
