using System.Collections.Concurrent;
using Polly.Distributed.CircuitBreaker.Controller;

namespace Polly.Distributed.CircuitBreaker.Sidecar;

/// <summary>
/// The circuits the sidecar serves: one breaker per circuit id, built on first use from the configured template, with
/// the check and the report of a call made in two requests. A half-open probe granted by a check is matched with its
/// report by a probe token; a client that never reports leaves the lease to expire in the store
/// (<see cref="DistributedCircuitBreakerStrategyOptions{TResult}.ProbeLeaseDuration"/>), after which another call probes.
/// </summary>
internal sealed class SidecarCircuits
{
    private static readonly ResiliencePropertyKey<string> TransitionKey = new("Polly.Distributed.Sidecar.Transition");

    private readonly DistributedCircuitBreakerStrategyOptions _template;
    private readonly ICircuitStateStore _store;
    private readonly TimeProvider _timeProvider;
    private readonly ConcurrentDictionary<string, DistributedCircuitController<object>> _controllers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (CallPermit Permit, long ExpiresMs)> _probes = new(StringComparer.Ordinal);

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

    /// <summary>Whether the circuit is served already, or there is room for it.</summary>
    public bool CanServe(string circuitId) => _controllers.ContainsKey(circuitId) || _controllers.Count < MaxCircuits;

    /// <summary>Checks whether a call may go ahead.</summary>
    public async Task<CheckAnswer> CheckAsync(string circuitId, CancellationToken cancellationToken)
    {
        var controller = For(circuitId);
        var context = ResilienceContextPool.Shared.Get(cancellationToken);
        try
        {
            var permit = await controller.AcquireAsync(context).ConfigureAwait(false);
            string? probeToken = null;
            if (permit.Rejection is null && permit.ProbeOwner is { } owner)
            {
                probeToken = owner;
                _probes[owner] = (permit, NowMs() + (long)_template.ProbeLeaseDuration.TotalMilliseconds);
            }

            var state = (permit.Observed?.Snapshot ?? controller.LastKnownSnapshot)?.State ?? StoredCircuitState.Closed;
            return new CheckAnswer(permit.Rejection is null, state, Transition(context), probeToken);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    /// <summary>Records the outcome of a call; a probe's report carries the token its check was given.</summary>
    public async Task<ReportAnswer> ReportAsync(string circuitId, bool failed, string? probeToken, CancellationToken cancellationToken)
    {
        SweepExpiredProbes();
        var controller = For(circuitId);
        var permit = probeToken is not null && _probes.TryRemove(probeToken, out var probe) ? probe.Permit : controller.PermitForSeparateReport();
        var context = ResilienceContextPool.Shared.Get(cancellationToken);
        try
        {
            var outcome = failed ? Outcome.FromException<object>(new ReportedFailureException()) : Outcome.FromResult<object>(null!);
            await controller.RecordAsync(context, permit, failed, outcome).ConfigureAwait(false);
            var state = controller.LastKnownSnapshot?.State ?? StoredCircuitState.Closed;
            return new ReportAnswer(state, Transition(context));
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    private static string? Transition(ResilienceContext context) => context.Properties.TryGetValue(TransitionKey, out var transition) ? transition : null;

    private long NowMs() => _timeProvider.GetUtcNow().ToUnixTimeMilliseconds();

    // Tokens of probes that were never reported: their leases have lapsed in the store, so they are only forgotten here.
    private void SweepExpiredProbes()
    {
        var now = NowMs();
        foreach (var (token, probe) in _probes)
        {
            if (probe.ExpiresMs <= now)
            {
                _probes.TryRemove(token, out _);
            }
        }
    }

    private DistributedCircuitController<object> For(string circuitId) => _controllers.GetOrAdd(circuitId, Create);

    private DistributedCircuitController<object> Create(string circuitId)
    {
        var options = (DistributedCircuitBreakerStrategyOptions)_template.Clone();
        options.CircuitId = circuitId;
        options.StateStore = _store;
        options.OnOpened = args => Note(args.Context, "CLOSED->OPEN");
        options.OnHalfOpened = args => Note(args.Context, "OPEN->HALF-OPEN");
        options.OnClosed = args => Note(args.Context, "HALF-OPEN->CLOSED");
        return DistributedCircuitBreakerPipelineBuilderExtensions.BuildController(options, _timeProvider);
    }

    private static ValueTask Note(ResilienceContext context, string transition)
    {
        context.Properties.Set(TransitionKey, transition);
        return default;
    }

    /// <summary>The outcome a client reported as a failure, as the events see it.</summary>
    private sealed class ReportedFailureException() : Exception("The client reported a failure to the sidecar.");
}
