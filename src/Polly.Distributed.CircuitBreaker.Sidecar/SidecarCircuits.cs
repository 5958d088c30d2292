using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using Polly.Distributed.CircuitBreaker.Controller;

namespace Polly.Distributed.CircuitBreaker.Sidecar;

/// <summary>
/// The circuits the sidecar serves: one breaker per circuit id, built on first use from the configured template, with
/// the check and the report of a call made in two requests. A half-open probe granted by a check (the fleet's, or this
/// process's own when the store cannot answer) is matched with its report by a probe token; a client that never reports
/// holds it for <see cref="DistributedCircuitBreakerStrategyOptions{TResult}.ProbeLeaseDuration"/>, after which it is
/// given back and another call probes.
/// At most <see cref="MaxCircuits"/> circuits are served: a request for another one is refused.
/// </summary>
internal sealed class SidecarCircuits
{
    private static readonly ResiliencePropertyKey<string> TransitionKey = new("Polly.Distributed.Sidecar.Transition");

    private readonly DistributedCircuitBreakerStrategyOptions _template;
    private readonly ICircuitStateStore _store;
    private readonly TimeProvider _timeProvider;
    private readonly ConcurrentDictionary<string, DistributedCircuitController<object>> _controllers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (CallPermit Permit, DistributedCircuitController<object> Controller, long ExpiresMs)> _probes = new(StringComparer.Ordinal);
    private readonly Lock _admission = new();
    private long _nextProbeExpiryMs = long.MaxValue;

    public SidecarCircuits(DistributedCircuitBreakerStrategyOptions template, ICircuitStateStore store, TimeProvider timeProvider, int maxCircuits = DefaultMaxCircuits)
    {
        MaxCircuits = maxCircuits;
        _template = template;
        _store = store;
        _timeProvider = timeProvider;
    }

    /// <summary>How many distinct circuits one sidecar serves by default: a bound on what clients can make it hold.</summary>
    public const int DefaultMaxCircuits = 10_000;

    public int MaxCircuits { get; }

    /// <summary>Checks whether a call may go ahead; <see langword="null"/> when the circuit is new and there is no room for it.</summary>
    public async Task<CheckAnswer?> CheckAsync(string circuitId, CancellationToken cancellationToken)
    {
        if (!TryServe(circuitId, out var controller))
        {
            return null;
        }

        // A probe whose client never reported is given back here too: while it is out, every check of its circuit is rejected.
        SweepExpiredProbes();
        var context = ResilienceContextPool.Shared.Get(cancellationToken);
        try
        {
            var permit = await controller.AcquireAsync(context).ConfigureAwait(false);
            string? probeToken = null;
            if (permit.Rejection is null && (permit.ProbeOwner is not null || permit.LocalProbe))
            {
                probeToken = permit.ProbeOwner ?? Guid.NewGuid().ToString("N");
                var expiresMs = NowMs() + (long)_template.ProbeLeaseDuration.TotalMilliseconds;
                _probes[probeToken] = (permit, controller, expiresMs);
                NoteProbeExpiry(expiresMs);
            }

            var seen = permit.Observed?.Snapshot ?? controller.LastKnownSnapshot;
            var opened = Opened(seen);
            return new CheckAnswer(permit.Rejection is null, seen?.State ?? StoredCircuitState.Closed, Transition(context), probeToken, opened?.OpenedBy, opened?.OpenedReason);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    /// <summary>
    /// Records the outcome of a call; a probe's report carries the token its check was given. <see langword="null"/> when
    /// the circuit is new and there is no room for it.
    /// </summary>
    public async Task<ReportAnswer?> ReportAsync(string circuitId, bool failed, string? probeToken, CancellationToken cancellationToken)
    {
        if (!TryServe(circuitId, out var controller))
        {
            return null;
        }

        SweepExpiredProbes();
        var permit = probeToken is not null && _probes.TryRemove(probeToken, out var probe) ? probe.Permit : controller.PermitForSeparateReport();
        var context = ResilienceContextPool.Shared.Get(cancellationToken);
        try
        {
            var outcome = failed ? Outcome.FromException<object>(new ReportedFailureException()) : Outcome.FromResult<object>(null!);
            await controller.RecordAsync(context, permit, failed, outcome).ConfigureAwait(false);
            var known = controller.LastKnownSnapshot;
            var opened = Opened(known);
            return new ReportAnswer(known?.State ?? StoredCircuitState.Closed, Transition(context), opened?.OpenedBy, opened?.OpenedReason);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    // Who opened a circuit and why are news only while it is open.
    private static CircuitSnapshot? Opened(CircuitSnapshot? known) => known is { State: StoredCircuitState.Open } ? known : null;

    private static string? Transition(ResilienceContext context) => context.Properties.TryGetValue(TransitionKey, out var transition) ? transition : null;

    private long NowMs() => _timeProvider.GetUtcNow().ToUnixTimeMilliseconds();

    // Probes that were never reported are given back once their lease has lapsed (a lease probe's has lapsed in the store
    // too). Nothing is walked before the earliest expiry: a check or a report reads one field.
    private void SweepExpiredProbes()
    {
        var now = NowMs();
        if (now < Volatile.Read(ref _nextProbeExpiryMs))
        {
            return;
        }

        Volatile.Write(ref _nextProbeExpiryMs, long.MaxValue);
        foreach (var (token, probe) in _probes)
        {
            if (probe.ExpiresMs > now)
            {
                NoteProbeExpiry(probe.ExpiresMs);
            }
            else if (_probes.TryRemove(token, out _))
            {
                probe.Controller.ReleaseProbe(probe.Permit);
            }
        }
    }

    private void NoteProbeExpiry(long expiresMs)
    {
        var next = Volatile.Read(ref _nextProbeExpiryMs);
        while (expiresMs < next)
        {
            var seen = Interlocked.CompareExchange(ref _nextProbeExpiryMs, expiresMs, next);
            if (seen == next)
            {
                return;
            }

            next = seen;
        }
    }

    // A known circuit is found without the lock; a new one is counted and added under it, so that concurrent requests for
    // new circuits cannot all see room for one more.
    private bool TryServe(string circuitId, [NotNullWhen(true)] out DistributedCircuitController<object>? controller)
    {
        if (_controllers.TryGetValue(circuitId, out controller))
        {
            return true;
        }

        lock (_admission)
        {
            if (_controllers.TryGetValue(circuitId, out controller))
            {
                return true;
            }

            if (_controllers.Count >= MaxCircuits)
            {
                return false;
            }

            controller = Create(circuitId);
            _controllers[circuitId] = controller;
            return true;
        }
    }

    private DistributedCircuitController<object> Create(string circuitId)
    {
        var options = (DistributedCircuitBreakerStrategyOptions)_template.Clone();
        options.CircuitId = circuitId;
        options.StateStore = _store;
        DistributedCircuitController<object>? controller = null;
        options.OnOpened = args => Note(args.Context, ReopenedFromHalfOpen(controller!.LastKnownSnapshot) ? "HALF-OPEN->OPEN" : "CLOSED->OPEN");
        options.OnHalfOpened = args => Note(args.Context, "OPEN->HALF-OPEN");
        options.OnClosed = args => Note(args.Context, "HALF-OPEN->CLOSED");
        controller = DistributedCircuitBreakerPipelineBuilderExtensions.BuildController(options, _timeProvider);
        return controller;
    }

    // Polly's opened event does not say which state was left, and what this process last read before the report may be
    // older than the state the store moved (other environments change it too). The state known at the event is the OPEN
    // just written, whose consecutiveOpens counts re-openings from HALF-OPEN (an opening from CLOSED writes 0), or, where a
    // store did not hand back the written item, the state that was left.
    private static bool ReopenedFromHalfOpen(CircuitSnapshot? known) =>
        known is { State: StoredCircuitState.HalfOpen } or { State: StoredCircuitState.Open, ConsecutiveOpens: > 0 };

    private static ValueTask Note(ResilienceContext context, string transition)
    {
        context.Properties.Set(TransitionKey, transition);
        return default;
    }

    /// <summary>The outcome a client reported as a failure, as the events see it.</summary>
    private sealed class ReportedFailureException() : Exception("The client reported a failure to the sidecar.");
}
