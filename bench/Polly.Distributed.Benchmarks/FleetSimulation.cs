using System.Diagnostics;
using Polly.CircuitBreaker;
using Polly.Distributed.CircuitBreaker;

namespace Polly.Distributed.Benchmarks;

/// <summary>
/// Many execution environments (each with its own breaker and its own store instance, so its own cache) on one circuit.
/// Three phases per run:
/// counting (threshold out of reach, every environment fails <see cref="FailuresPerEnvironment"/> times at once: failures
/// lost and the breaker's added latency of a failing call); opening (threshold 5, dead dependency, each environment calls
/// until its breaker rejects: calls that reached the dependency, OnOpened events); half-open (once the break is over every
/// environment calls the still dead dependency once: the calls that got through are the probes of that window).
/// </summary>
internal sealed class FleetSimulation : IAsyncDisposable
{
    private const int FailuresPerEnvironment = 3;
    private const int Threshold = 5;
    private const int MaxCallsPerEnvironment = 20;
    private const string Table = "fleet-simulation";
    private static readonly TimeSpan BreakDuration = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan LongStoreTimeout = TimeSpan.FromSeconds(10);

    // A probe lease (30 s, the sustained read interval's cap) and a StoreTimeout, with room to spare.
    private static readonly TimeSpan CountsLandWithin = TimeSpan.FromSeconds(45);

    private readonly FleetStores _stores;

    private FleetSimulation(FleetStores stores)
    {
        _stores = stores;
    }

    public static async Task<int> RunAsync(string? dynamoDbUrl, string? redis, int[] fleetSizes, string[]? stores, TextWriter output)
    {
        await using var simulation = new FleetSimulation(await FleetStores.ConnectAsync(dynamoDbUrl, redis, Table));
        output.WriteLine($"Fleet simulation: one circuit; counting phase {FailuresPerEnvironment} failures per environment (threshold out of reach, StoreTimeout 10 s);");
        output.WriteLine($"opening phase threshold {Threshold}, break {BreakDuration.TotalSeconds:0} s, default StoreTimeout (500 ms); probes = calls let through in the first half-open window.");
        output.WriteLine("Latency is what the breaker adds to a failing call (the dependency fails at once); a store request is one store call of the counting phase, under the same contention. Stores are local servers on this 2-core machine.");
        output.WriteLine($"Failures lost: those the stored count lacks {CountsLandWithin.TotalSeconds:0} s after the last call at most (under pressure a failing call does not wait for its count, which its environment sends when its next request is due).");
        output.WriteLine();
        output.WriteLine("| store | mode | cache | envs | failures lost | failing call p50 | p99 | store request p50 | calls to dead dependency | OnOpened | probes |");
        output.WriteLine("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");

        foreach (var environments in fleetSizes)
        {
            await simulation.RunPollyBaselineAsync(environments, output);
            foreach (var store in simulation._stores.Kinds(stores))
            {
                foreach (var consistency in new[] { CircuitConsistency.LastWriterWins, CircuitConsistency.Atomic })
                {
                    await simulation.RunAsync(store, consistency, TimeSpan.Zero, environments, output);
                }

                if (environments >= 1_000)
                {
                    await simulation.RunAsync(store, CircuitConsistency.Atomic, TimeSpan.FromMilliseconds(250), environments, output);
                }

                // The emulator answers about 400 requests a second on this machine: 1,000 environments wait seconds for
                // each answer. With a StoreTimeout that covers that wait, the calls that pass are those of a store that answers.
                if (environments >= 1_000 && store == "dynamodb")
                {
                    await simulation.RunAsync(store, CircuitConsistency.Atomic, TimeSpan.Zero, environments, output, LongStoreTimeout);
                }
            }
        }

        return 0;
    }

    public ValueTask DisposeAsync() => _stores.DisposeAsync();

    // Under store pressure a failing call does not wait for its count: each environment holds it until its next request is
    // due and sends it with no caller waiting. A failure is lost only if the stored count has not reached it once the
    // longest an environment may hold a request (the sustained read interval, at most a probe lease) has passed.
    private static async Task<long> StoredCountAsync(ICircuitStateStore store, string circuitId, long expected)
    {
        var watch = Stopwatch.StartNew();
        long stored;
        while ((stored = (await store.ReadAsync(circuitId, CancellationToken.None)).Snapshot.FailureCount) < expected
            && watch.Elapsed < CountsLandWithin)
        {
            await Task.Delay(500);
        }

        return stored;
    }

    private async Task RunAsync(string storeKind, CircuitConsistency consistency, TimeSpan cacheTtl, int environments, TextWriter output, TimeSpan? openingStoreTimeout = null)
    {
        var newStore = _stores.NewFleet(storeKind);

        // Counting: every failure must be stored.
        var countingId = $"count-{Guid.NewGuid():N}";
        var requests = new List<double>();
        var counting = Enumerable.Range(0, environments).Select(_ => Build(new TimedStore(newStore(), requests), countingId, consistency, cacheTtl, 1_000_000, LongStoreTimeout, null)).ToArray();
        var latencies = new List<double>();
        await FleetRunner.RunTogetherAsync(counting, async pipeline =>
        {
            for (var i = 0; i < FailuresPerEnvironment; i++)
            {
                var watch = Stopwatch.StartNew();
                try
                {
                    await pipeline.ExecuteAsync<int>(_ => throw new HttpRequestException("dead"));
                }
                catch (HttpRequestException)
                {
                }

                lock (latencies)
                {
                    latencies.Add(watch.Elapsed.TotalMilliseconds);
                }
            }
        });
        var stored = await StoredCountAsync(newStore(), countingId, environments * FailuresPerEnvironment);
        var lost = (environments * FailuresPerEnvironment) - stored;

        // Opening, then the first half-open window. A break shorter than the store's answers would half-open the circuit
        // (and re-open it) while the first failures are still being answered.
        var openingBreak = openingStoreTimeout is { } longTimeout ? longTimeout * 2 : BreakDuration;
        var circuitId = $"open-{Guid.NewGuid():N}";
        var opened = 0;
        var fleet = Enumerable.Range(0, environments)
            .Select(_ => Build(newStore(), circuitId, consistency, cacheTtl, Threshold, openingStoreTimeout ?? new DistributedCircuitBreakerStrategyOptions().StoreTimeout, () => Interlocked.Increment(ref opened), openingBreak))
            .ToArray();
        var reached = await OpenAsync(fleet);
        var snapshot = (await newStore().ReadAsync(circuitId, CancellationToken.None)).Snapshot;
        var probes = 0;
        var openedEvents = Volatile.Read(ref opened);
        if (snapshot.State == StoredCircuitState.Open)
        {
            var wait = DateTimeOffset.FromUnixTimeMilliseconds(snapshot.NextAttemptUnixMs) - DateTimeOffset.UtcNow;
            await Task.Delay(wait > TimeSpan.Zero ? wait + TimeSpan.FromMilliseconds(300) : TimeSpan.FromMilliseconds(300));

            // Until the break ends nothing can half-open, so every OnOpened so far is the opening, a late one included.
            openedEvents = Volatile.Read(ref opened);
            probes = await CallOnceAsync(fleet);
        }

        latencies.Sort();
        requests.Sort();
        output.WriteLine(
            $"| {storeKind} | {consistency}{(openingStoreTimeout is { } timeout ? $", StoreTimeout {timeout.TotalSeconds:0} s, break {openingBreak.TotalSeconds:0} s" : string.Empty)} | {(cacheTtl > TimeSpan.Zero ? $"{cacheTtl.TotalMilliseconds:0} ms" : "off")} | {environments:N0} | {lost:N0} of {environments * FailuresPerEnvironment:N0} " +
            $"| {Percentile(latencies, 0.50):0.0} ms | {Percentile(latencies, 0.99):0.0} ms | {Percentile(requests, 0.50):0.0} ms | {reached:N0} | {openedEvents} | {(snapshot.State == StoredCircuitState.Open ? probes.ToString("N0", System.Globalization.CultureInfo.InvariantCulture) : "never opened")} |");
    }

    private async Task RunPollyBaselineAsync(int environments, TextWriter output)
    {
        var opened = 0;
        var fleet = Enumerable.Range(0, environments).Select(_ =>
        {
            var options = PollyBaseline.Options(Threshold, BreakDuration);
            options.OnOpened = _ =>
            {
                Interlocked.Increment(ref opened);
                return default;
            };
            return new ResiliencePipelineBuilder().AddCircuitBreaker(options).Build();
        }).ToArray();
        var reached = await OpenAsync(fleet);
        var openedEvents = Volatile.Read(ref opened);
        await Task.Delay(BreakDuration + TimeSpan.FromMilliseconds(300));
        var probes = await CallOnceAsync(fleet);
        output.WriteLine($"| Polly's own breaker (no sharing) | - | - | {environments:N0} | - | - | - | - | {reached:N0} | {openedEvents} | {probes:N0} |");
    }

    private static ResiliencePipeline Build(
        ICircuitStateStore store, string circuitId, CircuitConsistency consistency, TimeSpan cacheTtl, int threshold, TimeSpan storeTimeout, Action? onOpened, TimeSpan? breakDuration = null) =>
        new ResiliencePipelineBuilder().AddDistributedCircuitBreaker(new DistributedCircuitBreakerStrategyOptions
        {
            CircuitId = circuitId,
            StateStore = store,
            Consistency = consistency,
            CacheTtl = cacheTtl,
            FailureThreshold = threshold,
            BreakDuration = breakDuration ?? BreakDuration,
            MaxBreakDuration = breakDuration ?? BreakDuration,
            StoreTimeout = storeTimeout,
            OnOpened = _ =>
            {
                onOpened?.Invoke();
                return default;
            },
        }).Build();

    private static async Task<int> OpenAsync(ResiliencePipeline[] fleet)
    {
        var reached = 0;
        await FleetRunner.RunTogetherAsync(fleet, async pipeline =>
        {
            for (var i = 0; i < MaxCallsPerEnvironment; i++)
            {
                try
                {
                    await pipeline.ExecuteAsync<int>(_ =>
                    {
                        Interlocked.Increment(ref reached);
                        throw new HttpRequestException("dead");
                    });
                }
                catch (BrokenCircuitException)
                {
                    return;
                }
                catch (HttpRequestException)
                {
                }
            }
        });
        return reached;
    }

    private static async Task<int> CallOnceAsync(ResiliencePipeline[] fleet)
    {
        var reached = 0;
        await FleetRunner.RunTogetherAsync(fleet, async pipeline =>
        {
            try
            {
                await pipeline.ExecuteAsync<int>(_ =>
                {
                    Interlocked.Increment(ref reached);
                    throw new HttpRequestException("still dead");
                });
            }
            catch (Exception ex) when (ex is BrokenCircuitException or HttpRequestException)
            {
            }
        });
        return reached;
    }

    /// <summary>The value at <paramref name="percentile"/> (0 to 1) of values sorted in ascending order; 0 when there are none.</summary>
    public static double Percentile(List<double> sorted, double percentile) =>
        sorted.Count == 0 ? 0 : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(percentile * sorted.Count) - 1)];
}
