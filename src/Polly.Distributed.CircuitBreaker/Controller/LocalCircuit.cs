using Polly.Distributed.CircuitBreaker.State;

namespace Polly.Distributed.CircuitBreaker.Controller;

/// <summary>
/// This process's own breaker beside the shared one, with the same thresholds, window and break: it counts only this
/// process's failures, as Polly's breaker would, and opens when they reach the threshold while the shared circuit has not
/// opened (its count was lost to a last-writer-wins overwrite, the store could not take it, or the fleet's quorum is not
/// met), and takes the half-open window when the fleet's break has ended and the store does not answer who probes
/// (<see cref="AdmitForFleet"/>). It writes nothing to the store. So, whatever the store does, one environment never
/// makes more than <c>FailureThreshold</c> failed calls per closed episode, and probes at most once per half-open window
/// of its own.
/// </summary>
/// <remarks>Times are milliseconds of the monotonic clock.</remarks>
internal sealed class LocalCircuit(CircuitBreakerSettings settings)
{
    private readonly object _gate = new();
    private volatile LocalCircuitState _state;
    private long _failures;
    private long _lastFailureMonoMs;
    private long _firstFailureMonoMs;
    private long _openedFirstFailureMonoMs;
    private long _openUntilMonoMs;
    private long _consecutiveOpens;
    private bool _probeOut;
    private bool _openedUnanswered;

    // The failures of an episode at which this process's own circuit opens while the store has not answered its count of
    // an earlier one within a call's store time: half the threshold, at least two. A store that slow is most often one
    // that the failures of several environments reach at once, and with one other environment failing, this one's share
    // of the fleet's threshold is half of it.
    private int UnansweredFailureLimit => Math.Max(2, settings.FailureThreshold / 2);

    /// <summary>Gets the state of this process's own circuit.</summary>
    public LocalCircuitState State => _state;

    /// <summary>Gets a value indicating whether this process's own circuit is closed; cheap enough for every call.</summary>
    public bool IsClosed => _state == LocalCircuitState.Closed;

    /// <summary>How long ago this process's own last break ended (negative while it runs).</summary>
    public long BreakEndedAgoMs(long nowMonoMs) => nowMonoMs - Volatile.Read(ref _openUntilMonoMs);

    /// <summary>Decides a call while this process's own circuit is not closed.</summary>
    /// <param name="nowMonoMs">Now.</param>
    /// <param name="retryAfterMs">For a rejection, how long until the local break ends.</param>
    /// <returns>Whether the call may go on to the shared circuit, and whether it is the local probe.</returns>
    public LocalAdmission Admit(long nowMonoMs, out long retryAfterMs)
    {
        lock (_gate)
        {
            return AdmitLocked(nowMonoMs, out retryAfterMs);
        }
    }

    /// <summary>
    /// Decides a call that the fleet's circuit leaves to this process: its break has ended and the store has not answered
    /// who probes. A closed local circuit takes the half-open window, so this process sends one probe at a time, as
    /// Polly's breaker would, and breaks again as long as the fleet would if it fails.
    /// </summary>
    /// <param name="nowMonoMs">Now.</param>
    /// <param name="fleetConsecutiveOpens">The fleet's failed probes so far.</param>
    /// <param name="retryAfterMs">For a rejection, how long until the local break ends.</param>
    public LocalAdmission AdmitForFleet(long nowMonoMs, long fleetConsecutiveOpens, out long retryAfterMs)
    {
        lock (_gate)
        {
            if (_state == LocalCircuitState.Closed)
            {
                _failures = 0;
                _consecutiveOpens = fleetConsecutiveOpens;
                _state = LocalCircuitState.HalfOpen;
            }

            return AdmitLocked(nowMonoMs, out retryAfterMs);
        }
    }

    /// <summary>Counts a failure of this process; <see langword="true"/> when it opened this process's own circuit.</summary>
    /// <param name="nowMonoMs">Now.</param>
    /// <param name="wasProbe">Whether the call was the local probe.</param>
    /// <param name="sharedCircuitOpen">Whether the shared circuit is known to be open: the fleet has taken over, and this episode ends.</param>
    /// <param name="failureUnanswered">
    /// Whether the store under pressure has not taken an earlier failure of this process (refused it, or has not answered
    /// its count within a call's store time): the circuit then opens at half the threshold (at least two failures), until
    /// an answer to a count says the fleet's circuit is closed below its threshold (<see cref="EndUnansweredOpening"/>). A
    /// store that slow cannot tell this process the fleet's OPEN before it has sent the dependency its whole threshold. Also
    /// when the store's last answer to a count showed other environments' failures in the window: the fleet's OPEN is near.
    /// </param>
    public bool RecordFailure(long nowMonoMs, bool wasProbe, bool sharedCircuitOpen, bool failureUnanswered = false)
    {
        lock (_gate)
        {
            if (wasProbe)
            {
                _probeOut = false;
            }

            if (sharedCircuitOpen)
            {
                CloseLocked();
                return false;
            }

            if (_state == LocalCircuitState.HalfOpen && wasProbe)
            {
                _consecutiveOpens = CircuitStateMachine.Increment(_consecutiveOpens);
                OpenLocked(nowMonoMs);
                return true;
            }

            if (_state != LocalCircuitState.Closed)
            {
                return false;
            }

            _failures = _failures > 0 && nowMonoMs - _lastFailureMonoMs > settings.FailureWindowMs ? 1 : CircuitStateMachine.Increment(_failures);
            if (_failures == 1)
            {
                _firstFailureMonoMs = nowMonoMs;
            }

            _lastFailureMonoMs = nowMonoMs;
            var unanswered = failureUnanswered && _failures >= UnansweredFailureLimit;
            if (_failures < settings.FailureThreshold && !unanswered)
            {
                return false;
            }

            var belowThreshold = _failures < settings.FailureThreshold;
            _consecutiveOpens = 0;
            _openedFirstFailureMonoMs = _firstFailureMonoMs;
            OpenLocked(nowMonoMs);
            _openedUnanswered = belowThreshold;
            return true;
        }
    }

    /// <summary>Records a success; <see langword="true"/> when the local probe closed this process's own circuit.</summary>
    public bool RecordSuccess(bool wasProbe)
    {
        if (!wasProbe)
        {
            return false;
        }

        lock (_gate)
        {
            _probeOut = false;
            if (_state != LocalCircuitState.HalfOpen)
            {
                return false;
            }

            CloseLocked();
            return true;
        }
    }

    /// <summary>
    /// Ends this process's own episode because the store has recorded the fleet's OPEN, which rejects calls from here on;
    /// a local probe in flight keeps the episode until its outcome. <see langword="true"/> when the circuit is closed now.
    /// </summary>
    public bool YieldToFleet()
    {
        lock (_gate)
        {
            if (_probeOut)
            {
                return false;
            }

            CloseLocked();
            return true;
        }
    }

    /// <summary>
    /// Closes this process's own circuit if it opened below the threshold because the store had not answered a count
    /// (see <see cref="RecordFailure"/>), now that an answer says the fleet's circuit is closed below its threshold with no
    /// failures but this process's; a local probe in flight keeps the episode until its outcome.
    /// </summary>
    /// <param name="nowMonoMs">Now.</param>
    /// <param name="countsHeldUpToMs">
    /// How long the other environments may hold their counts back (under pressure, each holds its count until its next
    /// request is due): an answer that came sooner after the first failure of the episode cannot show their failures of
    /// the same moment, and the circuit stays open for its break. A dependency that dies fails every environment's calls
    /// at once, and the first counts to reach the item would otherwise each send it two more failures.
    /// </param>
    public void EndUnansweredOpening(long nowMonoMs, long countsHeldUpToMs)
    {
        lock (_gate)
        {
            if (_openedUnanswered && _state != LocalCircuitState.Closed && !_probeOut && nowMonoMs - _openedFirstFailureMonoMs >= countsHeldUpToMs)
            {
                CloseLocked();
            }
        }
    }

    /// <summary>Gives the local probe back: its call ended with no outcome to judge, or the shared circuit rejected it.</summary>
    public void ReleaseProbe()
    {
        lock (_gate)
        {
            _probeOut = false;
        }
    }

    private LocalAdmission AdmitLocked(long nowMonoMs, out long retryAfterMs)
    {
        retryAfterMs = 0;
        switch (_state)
        {
            case LocalCircuitState.Closed:
                return LocalAdmission.Allowed;

            case LocalCircuitState.Open when nowMonoMs < _openUntilMonoMs:
                retryAfterMs = _openUntilMonoMs - nowMonoMs;
                return LocalAdmission.Rejected;

            default:
                _state = LocalCircuitState.HalfOpen;
                if (_probeOut)
                {
                    return LocalAdmission.Rejected;
                }

                _probeOut = true;
                return LocalAdmission.Probe;
        }
    }

    private void OpenLocked(long nowMonoMs)
    {
        _openedUnanswered = false;
        _failures = 0;
        _openUntilMonoMs = nowMonoMs + CircuitStateMachine.BreakDurationMs(_consecutiveOpens, settings);
        _state = LocalCircuitState.Open;
    }

    private void CloseLocked()
    {
        _openedUnanswered = false;
        _failures = 0;
        _consecutiveOpens = 0;
        _state = LocalCircuitState.Closed;
    }
}
