using System.Diagnostics;
using Polly.CircuitBreaker;
using Polly.Distributed.CircuitBreaker;

namespace Polly.Distributed.Benchmarks;

/// <summary>
/// One environment of the emulator load's loop: it calls the dependency through its own pipeline until the run is over and
/// pauses briefly after a rejection; it keeps when its calls reached the dependency and when its store did not answer.
/// Times are ms since the run started.
/// </summary>
internal sealed class LoopEnvironment(long startedTimestamp)
{
    private static readonly TimeSpan DependencyLatency = TimeSpan.FromMilliseconds(20);
    private static readonly TimeSpan PauseAfterRejection = TimeSpan.FromMilliseconds(5);
    private static readonly HttpRequestException Failed = new("The dependency failed (simulated).");

    private readonly List<long> _dependencyCallsAtMs = [];
    private readonly List<long> _successesAtMs = [];
    private readonly List<(long AtMs, string Kind)> _storeFailures = [];

    /// <summary>Gets the store failures this environment's breaker reported, each with its kind (operation and error).</summary>
    public IReadOnlyList<(long AtMs, string Kind)> StoreFailures => _storeFailures;

    public int DependencyCallsBetween(long fromMs, long untilMs) => _dependencyCallsAtMs.Count(at => at >= fromMs && at < untilMs);

    /// <summary>
    /// When the first call that started at or after <paramref name="fromMs"/> and succeeded had its answer; <see langword="null"/>
    /// if none did. A probe's success closes the circuit (one success closes here), so calls started after it are no probes.
    /// </summary>
    public long? FirstSuccessAnsweredFrom(long fromMs) => _successesAtMs.Where(at => at >= fromMs).Select(at => (long?)(at + (long)DependencyLatency.TotalMilliseconds)).FirstOrDefault();

    /// <summary>The first call that reached the dependency at or after <paramref name="fromMs"/>; <see langword="null"/> if none did.</summary>
    public long? FirstDependencyCallFrom(long fromMs) => _dependencyCallsAtMs.Where(at => at >= fromMs).Select(at => (long?)at).FirstOrDefault();

    public bool StoreFailedBetween(long fromMs, long untilMs) => _storeFailures.Exists(failure => failure.AtMs >= fromMs && failure.AtMs < untilMs);

    public long NowMs() => (long)Stopwatch.GetElapsedTime(startedTimestamp).TotalMilliseconds;

    public void OnStoreFailure(OnCircuitStateStoreFailureArguments arguments)
    {
        var kind = $"{arguments.Operation} {(arguments.Exception is TimeoutException ? "timeout" : arguments.Exception.GetType().Name)}";
        lock (_storeFailures)
        {
            _storeFailures.Add((NowMs(), kind));
        }
    }

    public async Task RunAsync(ResiliencePipeline pipeline)
    {
        while (NowMs() < EmulatorLoop.DurationMs)
        {
            var context = ResilienceContextPool.Shared.Get();
            var outcome = await pipeline.ExecuteOutcomeAsync(static (_, environment) => environment.CallDependencyAsync(), context, this);
            ResilienceContextPool.Shared.Return(context);
            if (outcome.Exception is BrokenCircuitException)
            {
                await Task.Delay(PauseAfterRejection);
            }
        }
    }

    private async ValueTask<Outcome<int>> CallDependencyAsync()
    {
        var at = NowMs();
        _dependencyCallsAtMs.Add(at);
        await Task.Delay(DependencyLatency);
        if (at >= EmulatorLoop.DeathAtMs && at < EmulatorLoop.HealAtMs)
        {
            return Outcome.FromException<int>(Failed);
        }

        _successesAtMs.Add(at);
        return Outcome.FromResult(1);
    }
}
