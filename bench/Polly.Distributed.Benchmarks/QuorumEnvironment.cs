using Polly.CircuitBreaker;

namespace Polly.Distributed.Benchmarks;

/// <summary>
/// One environment of the quorum simulation: it calls the dependency through its own pipeline in a loop, pauses briefly
/// after a rejection, and keeps what it saw. Its calls are sequential, so it needs no lock.
/// </summary>
internal sealed class QuorumEnvironment(bool sick)
{
    public const long Never = long.MaxValue;
    private static readonly TimeSpan DependencyLatency = TimeSpan.FromMilliseconds(3);
    private static readonly TimeSpan PauseAfterRejection = TimeSpan.FromMilliseconds(5);
    private static readonly HttpRequestException Failed = new("The dependency failed (simulated).");

    private readonly List<long> _dependencyCallsAtMs = [];
    private readonly List<long> _probesAtMs = [];
    private int _failedInARow;
    private bool _lastRejected;

    public bool Sick => sick;

    public int Calls { get; private set; }

    public int Rejections { get; private set; }

    /// <summary>Gets the most failed calls in a row with no rejection between them: the failures of one closed episode.</summary>
    public int MostFailuresPerEpisode { get; private set; }

    public long FirstRejectedAtMs { get; private set; } = Never;

    /// <summary>Gets the calls that reached the dependency right after a rejection: each opens a half-open episode.</summary>
    public IReadOnlyList<long> ProbesAtMs => _probesAtMs;

    /// <summary>Gets or sets when the first break that held this environment's calls ends (unix ms).</summary>
    public long FirstBreakEndsAtMs { get; set; } = Never;

    public int DependencyCallsBetween(long fromMs, long untilMs) => _dependencyCallsAtMs.Count(at => at >= fromMs && at < untilMs);

    public async Task RunAsync(ResiliencePipeline pipeline, long untilMs)
    {
        while (NowMs() < untilMs)
        {
            var context = ResilienceContextPool.Shared.Get();
            var outcome = await pipeline.ExecuteOutcomeAsync(static (_, environment) => environment.CallDependencyAsync(), context, this);
            ResilienceContextPool.Shared.Return(context);
            if (outcome.Exception is BrokenCircuitException)
            {
                Rejections++;
                FirstRejectedAtMs = Math.Min(FirstRejectedAtMs, NowMs());
                _failedInARow = 0;
                _lastRejected = true;
                await Task.Delay(PauseAfterRejection);
            }
        }
    }

    /// <summary>Unix milliseconds, the clock of the stored state's <c>nextAttempt</c>.</summary>
    public static long NowMs() => TimeProvider.System.GetUtcNow().ToUnixTimeMilliseconds();

    private async ValueTask<Outcome<int>> CallDependencyAsync()
    {
        var at = NowMs();
        Calls++;
        _dependencyCallsAtMs.Add(at);
        if (_lastRejected)
        {
            _probesAtMs.Add(at);
            _lastRejected = false;
        }

        await Task.Delay(DependencyLatency);
        if (!sick)
        {
            _failedInARow = 0;
            return Outcome.FromResult(1);
        }

        MostFailuresPerEpisode = Math.Max(MostFailuresPerEpisode, ++_failedInARow);
        return Outcome.FromException<int>(Failed);
    }
}
