using System.Diagnostics;
using System.Globalization;
using Polly.Distributed.CircuitBreaker;

namespace Polly.Distributed.Benchmarks;

/// <summary>
/// The capacity of one circuit: fleets of environments running the real breaker against a simulated DynamoDB item and a
/// simulated redis-server on a virtual clock (<see cref="CapacityRun"/>), at each fleet size and call rate, beside Polly's
/// own breaker in every environment; then, at the largest size, a cold fleet scaling out as Lambda does. After the table,
/// second by second, the largest fleet at the highest rate without a cache.
/// </summary>
internal static class CapacitySimulation
{
    private const int LowRate = 1;
    private const int HighRate = 10;
    private static readonly TimeSpan Cache = TimeSpan.FromMilliseconds(250);

    public static async Task<int> RunAsync(int[] fleetSizes, string[]? stores, TextWriter output)
    {
        var watch = Stopwatch.StartNew();
        var selected = stores ?? ["dynamodb", "redis"];
        var largest = fleetSizes.Max();
        var timelines = new List<(CapacityScenario Scenario, CapacityResult Result)>();
        WriteHeader(output);
        foreach (var environments in fleetSizes)
        {
            foreach (var rate in new[] { LowRate, HighRate })
            {
                await RunRowAsync(new CapacityScenario("-", environments, rate, null, TimeSpan.Zero, Cold: false), output);
                foreach (var store in selected)
                {
                    foreach (var consistency in new[] { CircuitConsistency.LastWriterWins, CircuitConsistency.Atomic })
                    {
                        var scenario = new CapacityScenario(store, environments, rate, consistency, TimeSpan.Zero, Cold: false);
                        var result = await RunRowAsync(scenario, output);
                        if (environments == largest && rate == HighRate)
                        {
                            timelines.Add((scenario, result));
                        }
                    }

                    // At one call per second no environment calls again within a 250 ms cache: only the faster rate shows it.
                    if (rate == HighRate)
                    {
                        await RunRowAsync(new CapacityScenario(store, environments, rate, CircuitConsistency.Atomic, Cache, Cold: false), output);
                    }
                }
            }
        }

        await RunRowAsync(new CapacityScenario("-", largest, LowRate, null, TimeSpan.Zero, Cold: true), output);
        foreach (var store in selected)
        {
            await RunRowAsync(new CapacityScenario(store, largest, LowRate, CircuitConsistency.Atomic, TimeSpan.Zero, Cold: true), output);
        }

        foreach (var (scenario, result) in timelines)
        {
            WriteTimeline(scenario, result, output);
        }

        output.WriteLine();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Run time: {watch.Elapsed.TotalMinutes:0.0} min on {Environment.ProcessorCount} cores shared with other work."));
        return 0;
    }

    private static void WriteHeader(TextWriter output)
    {
        output.WriteLine("Capacity of one circuit: the real breaker in every environment (its own pipeline and store instance, so its own cache),");
        output.WriteLine($"a simulated store and a virtual clock advanced in 10 ms steps. Threshold {CapacityRun.FailureThreshold}, break {CapacityRun.BreakDuration.TotalSeconds:0} s doubling to {CapacityRun.MaxBreakDuration.TotalSeconds:0} s, one success closes,");
        output.WriteLine("default StoreTimeout (500 ms). Each environment calls at its rate on average (intervals drawn between half and one and a half");
        output.WriteLine("periods). The dependency is healthy for 1 s, dead for 4 s, then healed; everything is counted from its death to 9 s later.");
        output.WriteLine($"Cold: the fleet scales out from nothing, {CapacityRun.ColdBatch:N0} new environments every 10 s, and the dependency dies 1 s before the last");
        output.WriteLine("ones start. DynamoDB: one item takes 3,000 read or 1,000 write units per second in all (an eventually consistent read is half");
        output.WriteLine("a unit, a write one, a failed conditional write too), no burst; a request over that is throttled at once. Redis: one thread");
        output.WriteLine($"serving {CapacityRun.RedisRequestsPerSecond:N0} requests per second; a request that would wait in its queue longer than the store timeout times out.");
        output.WriteLine("Polly's breaker: FailureRatio 1.0 over MinimumThroughput 5 (it opens at the 5th failure in a row), the same breaks, in each");
        output.WriteLine("environment, calls counted from the death on. \"Knows OPEN\": from the death to an environment's first rejected call. A probe is a");
        output.WriteLine("call in a half-open window from an environment that had seen the circuit open. The last column counts the calls rejected");
        output.WriteLine("after a probe had reached the healed dependency, to the end of the run.");
        output.WriteLine();
        output.WriteLine("| store | envs | calls/s per env | mode | cache | reads/s | writes/s | refused | dead-dependency calls before the first break ended | all dead-dependency calls | most by one env | OnOpened | local openings | probes per half-open window | knows OPEN p50 | p99 | OPEN first seen in a read / own write / never | rejected after a probe succeeded |");
        output.WriteLine("|---|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|");
    }

    private static async Task<CapacityResult> RunRowAsync(CapacityScenario scenario, TextWriter output)
    {
        var result = await CapacityRun.RunAsync(scenario);
        var polly = scenario.Consistency is null;
        var untilRejected = result.UntilRejected.OrderBy(time => time ?? TimeSpan.MaxValue).ToArray();
        var never = untilRejected.Count(time => time is null);
        output.WriteLine("| " + string.Join(" | ", new[]
        {
            polly ? "-" : StoreName(scenario),
            Number(scenario.Environments) + (scenario.Cold ? " cold" : string.Empty),
            Number(scenario.CallsPerSecond),
            polly ? "Polly's breaker, per environment" : scenario.Consistency.ToString()!,
            polly ? "-" : scenario.CacheTtl > TimeSpan.Zero ? Number(scenario.CacheTtl.TotalMilliseconds) + " ms" : "off",
            result.ReadsPerSecond is { } reads ? Number(reads) : "-",
            result.WritesPerSecond is { } writes ? Number(writes) : "-",
            result.RefusedShare is { } share ? share.ToString("P1", CultureInfo.InvariantCulture) : "-",
            Number(result.DeadCallsBeforeFirstBreakEnded),
            Number(result.DeadCalls),
            Number(result.MostDeadCallsOfOneEnvironment),
            Number(result.Opened),
            result.LocalOpenings is { } local ? Number(local) : "-",
            Windows(result.ProbesPerWindow, polly),
            Duration(Percentile(untilRejected, 0.50)),
            Duration(Percentile(untilRejected, 0.99)) + (never > 0 ? $" ({Number(never)} never)" : string.Empty),
            polly ? "-" : $"{Number(result.OpenSeenInRead!.Value)} / {Number(result.OpenSeenInWrite!.Value)} / {Number(scenario.Environments - result.OpenSeenInRead.Value - result.OpenSeenInWrite.Value)}",
            result.RejectedAfterProbeSucceeded is { } afterRecovery ? Number(afterRecovery) : "-",
        }) + " |");
        output.Flush();
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"capacity: {scenario} in {result.RunTime.TotalSeconds:0.0} s"));
        return result;
    }

    private static void WriteTimeline(CapacityScenario scenario, CapacityResult result, TextWriter output)
    {
        output.WriteLine();
        output.WriteLine($"{StoreName(scenario)}, {Number(scenario.Environments)} environments x {scenario.CallsPerSecond} calls/s, {scenario.Consistency}, no cache, second by second (0: the dependency dies; 4: it heals):");
        output.WriteLine();
        output.WriteLine("| second | reads | writes | refused | calls to the dead dependency | rejected calls |");
        output.WriteLine("|---:|---:|---:|---:|---:|---:|");
        foreach (var second in result.Timeline)
        {
            output.WriteLine($"| {second.Second} | {Number(second.Reads)} | {Number(second.Writes)} | {Number(second.Refused)} | {Number(second.DeadCalls)} | {Number(second.Rejected)} |");
        }
    }

    private static string StoreName(CapacityScenario scenario) => scenario.Store == "redis" ? "Redis model" : "DynamoDB model";

    private static string Number(double value) => value.ToString("N0", CultureInfo.InvariantCulture);

    private static string Windows(IReadOnlyList<long> probes, bool polly)
    {
        if (probes.Count == 0)
        {
            return "none";
        }

        var shown = string.Join(", ", probes.Take(4).Select(count => Number(count)));
        return (probes.Count > 4 ? $"{shown}, … ({probes.Count} windows)" : shown) + (polly ? " (each environment's own)" : string.Empty);
    }

    private static TimeSpan? Percentile(TimeSpan?[] sorted, double percentile) =>
        sorted.Length == 0 ? null : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(percentile * sorted.Length) - 1)];

    private static string Duration(TimeSpan? duration) => duration switch
    {
        null => "never",
        { TotalSeconds: < 1 } brief => string.Create(CultureInfo.InvariantCulture, $"{brief.TotalMilliseconds:0} ms"),
        { } longer => string.Create(CultureInfo.InvariantCulture, $"{longer.TotalSeconds:0.00} s"),
    };
}
