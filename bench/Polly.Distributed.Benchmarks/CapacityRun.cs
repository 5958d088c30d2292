using System.Diagnostics;
using Polly.CircuitBreaker;
using Polly.Distributed.CircuitBreaker;
using Polly.Telemetry;

namespace Polly.Distributed.Benchmarks;

/// <summary>
/// One run of the capacity simulation: every environment has a pipeline of its own and calls one dependency on a virtual
/// clock (<see cref="VirtualClock"/>, the pipelines' TimeProvider and the store's) advanced in 10 ms steps. The calls
/// due in a step are made one after another, each awaited: against the simulated store they complete at once. The
/// dependency is healthy, dead for 4 s (every call fails), then healed; the run ends 9 s after the death.
/// </summary>
/// <remarks>
/// An environment calls at its rate on average, each interval drawn between half and one and a half periods from a seeded
/// generator: calls in lock step would make the same environments lose the race for the store's capacity every second.
/// </remarks>
internal sealed class CapacityRun
{
    public const int FailureThreshold = 5;
    public const int ColdBatch = 1_000;
    public const int RedisRequestsPerSecond = 100_000;
    public static readonly TimeSpan BreakDuration = TimeSpan.FromSeconds(2);
    public static readonly TimeSpan MaxBreakDuration = TimeSpan.FromSeconds(8);

    private const long StepMs = 10;
    private const long ColdBatchEveryMs = 10_000;
    private const long HealthyMs = 1_000;
    private const long DeadMs = 4_000;
    private const long MeasuredMs = 9_000;
    private const long Never = long.MaxValue;
    private const int ScheduleSteps = 256;
    private const int Seed = 20_251;
    private static readonly DateTimeOffset Epoch = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly HttpRequestException DependencyDown = new("The dependency is down (simulated).");

    private readonly CapacityScenario _scenario;
    private readonly VirtualClock _clock = new(Epoch);
    private readonly SimulatedCircuitItem? _item;
    private readonly LocalOpeningCounter _localOpenings = new();
    private readonly ResiliencePipeline[] _pipelines;
    private readonly long _deathMs;
    private readonly long _endMs;
    private readonly long _stepsPerCall;
    private readonly List<int>[] _schedule = [.. Enumerable.Range(0, ScheduleSteps).Select(_ => new List<int>())];
    private readonly Random _random = new(Seed);
    private readonly long[] _firstRejectedMs;
    private readonly int[] _deadCallsOf;
    private readonly int[] _ownOpenings;
    private readonly bool[] _ownOpen;
    private readonly long[] _deadCallsIn;
    private readonly long[] _rejectedIn;
    private readonly List<long> _windows = [];
    private readonly Dictionary<long, long> _probes = [];
    private List<int> _spare = [];
    private long _nowMs;
    private long _opened;
    private long _deadCalls;
    private long _deadCallsBeforeFirstBreakEnded;
    private long _rejectedAfterProbeSucceeded;
    private long _firstProbeSucceededMs = Never;

    private CapacityRun(CapacityScenario scenario)
    {
        _scenario = scenario;
        var environments = scenario.Environments;
        _deathMs = scenario.Cold ? Math.Max(HealthyMs, BornAtMs(environments - 1) - 1_000) : HealthyMs;
        _endMs = _deathMs + MeasuredMs;
        _stepsPerCall = 1_000 / StepMs / scenario.CallsPerSecond;
        _firstRejectedMs = new long[environments];
        Array.Fill(_firstRejectedMs, Never);
        _deadCallsOf = new int[environments];
        _ownOpenings = new int[environments];
        _ownOpen = new bool[environments];
        _deadCallsIn = new long[(_endMs / 1_000) + 1];
        _rejectedIn = new long[(_endMs / 1_000) + 1];
        if (scenario.Consistency is { } consistency)
        {
            var options = new DistributedCircuitBreakerStrategyOptions();
            IItemCapacity capacity = scenario.Store == "redis"
                ? new RedisServerCapacity(RedisRequestsPerSecond, options.StoreTimeout)
                : new DynamoDbItemCapacity();
            _item = new SimulatedCircuitItem(capacity, _clock, environments, TimeSpan.FromMilliseconds(_deathMs), TimeSpan.FromMilliseconds(_endMs));
            var circuitId = $"capacity-{Guid.NewGuid():N}";
            var telemetry = _localOpenings.Telemetry;
            _pipelines = [.. Enumerable.Range(0, environments).Select(environment => BuildDistributed(environment, circuitId, consistency, telemetry))];
        }
        else
        {
            _pipelines = [.. Enumerable.Range(0, environments).Select(BuildPolly)];
        }
    }

    public static async Task<CapacityResult> RunAsync(CapacityScenario scenario)
    {
        var watch = Stopwatch.StartNew();
        var run = new CapacityRun(scenario);
        await run.RunAsync();
        return run.Result(watch.Elapsed);
    }

    private long NowUnixMs => Epoch.ToUnixTimeMilliseconds() + _nowMs;

    private long BornAtMs(int environment) => _scenario.Cold ? environment / ColdBatch * ColdBatchEveryMs : 0;

    private async Task RunAsync()
    {
        for (var step = 0L; step * StepMs < _endMs; step++)
        {
            if (step > 0)
            {
                _clock.Advance(TimeSpan.FromMilliseconds(StepMs));
            }

            _nowMs = step * StepMs;
            if (_nowMs % ColdBatchEveryMs == 0)
            {
                StartEnvironmentsBornNow();
            }

            var due = _schedule[step % ScheduleSteps];
            _schedule[step % ScheduleSteps] = _spare;
            foreach (var environment in due)
            {
                // Polly's breaker counts a failure ratio: the successes of the healthy phase would keep it from ever opening.
                if (_item is not null || _nowMs >= _deathMs)
                {
                    var call = CallAsync(environment);
                    if (!call.IsCompletedSuccessfully)
                    {
                        await call;
                    }
                }

                ScheduleNext(environment, step + (_stepsPerCall / 2) + _random.Next((int)_stepsPerCall + 1));
            }

            due.Clear();
            _spare = due;
        }
    }

    private void StartEnvironmentsBornNow()
    {
        for (var environment = 0; environment < _pipelines.Length; environment++)
        {
            if (BornAtMs(environment) == _nowMs)
            {
                ScheduleNext(environment, (_nowMs / StepMs) + _random.Next((int)_stepsPerCall));
            }
        }
    }

    private void ScheduleNext(int environment, long step) => _schedule[Math.Max(step, (_nowMs / StepMs) + 1) % ScheduleSteps].Add(environment);

    private ValueTask CallAsync(int environment)
    {
        var context = ResilienceContextPool.Shared.Get();
        var pending = _pipelines[environment].ExecuteOutcomeAsync(static (_, state) => state.Run.CallDependency(state.Environment), context, (Run: this, Environment: environment));
        if (pending.IsCompletedSuccessfully)
        {
            Finish(environment, context, pending.Result);
            return default;
        }

        return FinishAsync(environment, context, pending);
    }

    private async ValueTask FinishAsync(int environment, ResilienceContext context, ValueTask<Outcome<int>> pending) => Finish(environment, context, await pending);

    private void Finish(int environment, ResilienceContext context, Outcome<int> outcome)
    {
        ResilienceContextPool.Shared.Return(context);
        if (outcome.Exception is not BrokenCircuitException)
        {
            return;
        }

        _rejectedIn[_nowMs / 1_000]++;
        if (_nowMs >= _firstProbeSucceededMs)
        {
            _rejectedAfterProbeSucceeded++;
        }

        if (_nowMs >= _deathMs && _firstRejectedMs[environment] == Never)
        {
            _firstRejectedMs[environment] = _nowMs;
        }
    }

    private ValueTask<Outcome<int>> CallDependency(int environment)
    {
        var dead = _nowMs >= _deathMs && _nowMs < _deathMs + DeadMs;
        if (dead)
        {
            _deadCalls++;
            _deadCallsOf[environment]++;
            _deadCallsIn[_nowMs / 1_000]++;
        }

        if (_item is null)
        {
            if (dead && _ownOpenings[environment] == 0)
            {
                _deadCallsBeforeFirstBreakEnded++;
            }

            // Polly's breaker lets a call through while open only as the probe of its half-open window.
            if (_ownOpen[environment])
            {
                CountProbe(_ownOpenings[environment]);
            }
        }
        else
        {
            var firstOpened = _item.FirstOpened;
            if (dead && (firstOpened is null || _nowMs < (firstOpened.Value + BreakDuration).TotalMilliseconds))
            {
                _deadCallsBeforeFirstBreakEnded++;
            }

            // A call in a half-open window is a probe only if its environment knew the circuit had opened; the others fail
            // open on a CLOSED they still believe (their reads were refused) and are counted as dead-dependency calls alone.
            var stored = firstOpened is null ? null : _item.Peek();
            if (stored is not null && InHalfOpenWindow(stored) && _item.SawNotClosed(environment))
            {
                CountProbe(stored.NextAttemptUnixMs);
            }
        }

        return new(dead ? Outcome.FromException<int>(DependencyDown) : Outcome.FromResult(1));
    }

    private bool InHalfOpenWindow(CircuitSnapshot stored) =>
        stored.State == StoredCircuitState.HalfOpen || (stored.State == StoredCircuitState.Open && NowUnixMs >= stored.NextAttemptUnixMs);

    private void CountProbe(long window)
    {
        if (_nowMs >= _deathMs + DeadMs)
        {
            _firstProbeSucceededMs = Math.Min(_firstProbeSucceededMs, _nowMs);
        }

        if (_probes.TryAdd(window, 1))
        {
            _windows.Add(window);
        }
        else
        {
            _probes[window]++;
        }
    }

    private ResiliencePipeline BuildDistributed(int environment, string circuitId, CircuitConsistency consistency, TelemetryOptions telemetry) =>
        new ResiliencePipelineBuilder { TimeProvider = _clock }
            .AddDistributedCircuitBreaker(new DistributedCircuitBreakerStrategyOptions
            {
                CircuitId = circuitId,
                StateStore = _item!.ForEnvironment(environment),
                Consistency = consistency,
                CacheTtl = _scenario.CacheTtl,
                FailureThreshold = FailureThreshold,
                SuccessThreshold = 1,
                BreakDuration = BreakDuration,
                MaxBreakDuration = MaxBreakDuration,
                OnOpened = _ =>
                {
                    Interlocked.Increment(ref _opened);
                    return default;
                },
            })
            .ConfigureTelemetry(telemetry)
            .Build();

    // Failure ratio 1.0 over at least 5 calls: the breaker opens at the 5th failure in a row, and its break doubles per
    // failed probe up to MaxBreakDuration, as the distributed breaker's does.
    private ResiliencePipeline BuildPolly(int environment) =>
        new ResiliencePipelineBuilder { TimeProvider = _clock }
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions
            {
                FailureRatio = 1.0,
                MinimumThroughput = FailureThreshold,
                SamplingDuration = TimeSpan.FromSeconds(30),
                BreakDurationGenerator = args => new(TimeSpan.FromTicks(Math.Min(BreakDuration.Ticks << Math.Min(args.HalfOpenAttempts, 16), MaxBreakDuration.Ticks))),
                OnOpened = _ =>
                {
                    _opened++;
                    _ownOpenings[environment]++;
                    _ownOpen[environment] = true;
                    return default;
                },
                OnClosed = _ =>
                {
                    _ownOpen[environment] = false;
                    return default;
                },
            })
            .Build();

    private CapacityResult Result(TimeSpan runTime)
    {
        var seconds = MeasuredMs / 1_000.0;
        var requests = _item is null ? 0 : _item.Reads + _item.Writes;
        var deathSecond = (int)(_deathMs / 1_000);
        var timeline = Enumerable.Range(deathSecond - 1, (int)(MeasuredMs / 1_000) + 1).Select(second =>
        {
            var (reads, writes, refused) = _item?.InSecond(second) ?? default;
            return new CapacitySecond(second - deathSecond, reads, writes, refused, _deadCallsIn[second], _rejectedIn[second]);
        });
        return new CapacityResult(
            _item?.Reads / seconds,
            _item?.Writes / seconds,
            _item is null ? null : requests == 0 ? 0 : (double)_item.Refused / requests,
            _deadCallsBeforeFirstBreakEnded,
            _deadCalls,
            _deadCallsOf.Max(),
            Interlocked.Read(ref _opened),
            _item is null ? null : _localOpenings.Count,
            _item is null ? null : _rejectedAfterProbeSucceeded,
            [.. _windows.Select(window => _probes[window])],
            [.. _firstRejectedMs.Select((rejectedMs, environment) => rejectedMs == Never ? (TimeSpan?)null : TimeSpan.FromMilliseconds(rejectedMs - Math.Max(_deathMs, BornAtMs(environment))))],
            _item?.OpenSeenIn.Count(seen => seen == ItemRequest.Read),
            _item?.OpenSeenIn.Count(seen => seen == ItemRequest.Write),
            [.. timeline],
            runTime);
    }
}
