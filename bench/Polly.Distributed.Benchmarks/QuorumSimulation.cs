using System.Diagnostics;
using System.Globalization;

namespace Polly.Distributed.Benchmarks;

/// <summary>
/// The quorum (<c>MinimumFailingEnvironments</c>) shown on every store: a fleet whose dependency is healthy but for one or
/// two environments with a problem of their own, then a fleet whose dependency is down for everyone; each with a quorum
/// of <see cref="QuorumRun.Quorum"/>, without one (K = 1), and with Polly's own breaker in every environment.
/// </summary>
internal static class QuorumSimulation
{
    private const string Table = "quorum-simulation";

    public static async Task<int> RunAsync(string? dynamoDbUrl, string? redis, string[]? stores, TextWriter output)
    {
        var watch = Stopwatch.StartNew();
        await using var fleetStores = await FleetStores.ConnectAsync(dynamoDbUrl, redis, Table);
        WriteHeader(output);
        foreach (var scenario in QuorumScenario.All)
        {
            output.WriteLine();
            output.WriteLine($"### {scenario.Name}");
            output.WriteLine();
            output.WriteLine(scenario.DependencyDown
                ? "| store | breaker | fleet openings before the first break ended | first one after | fleet OnOpened in 5 s | local openings | calls to the dead dependency before the first break ended | probes in the first half-open window | calls to the dead dependency in 5 s |"
                : "| store | breaker | fleet OnOpened | local openings | healthy environments with a rejection | healthy calls rejected | most failed calls per closed episode (sick) | probes per sick environment | gaps to each probe |");
            output.WriteLine("|---|---|---:|---:|---:|---:|---:|---:|---:|");
            WriteRow(output, scenario, "-", "Polly's own breaker in each environment", await QuorumRun.RunPollyAsync(scenario));
            foreach (var store in fleetStores.Kinds(stores))
            {
                foreach (var quorum in new[] { QuorumRun.Quorum, 1 })
                {
                    var result = await QuorumRun.RunDistributedAsync(scenario, fleetStores.NewFleet(store), quorum);
                    WriteRow(output, scenario, store, quorum > 1 ? $"quorum K = {quorum}" : "no quorum (K = 1)", result);
                }
            }
        }

        output.WriteLine();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Run time: {watch.Elapsed.TotalMinutes:0.0} min on {Environment.ProcessorCount} cores shared with other work."));
        return 0;
    }

    private static void WriteHeader(TextWriter output)
    {
        output.WriteLine($"Quorum simulation: {QuorumRun.Environments} environments on one circuit, each with its own pipeline (for the distributed breaker its own store");
        output.WriteLine($"instance, so its own cache, and its own environment id), calling a dependency that takes 3 ms in a loop for {QuorumRun.Duration.TotalSeconds:0} s and");
        output.WriteLine("pausing 5 ms after a rejected call. Stores are local servers on this 2-core machine (the in-memory store: one instance shared through");
        output.WriteLine($"a store instance per environment). Distributed breaker: Atomic, threshold {QuorumRun.Threshold}, break {QuorumRun.BreakDuration.TotalSeconds:0} s (MaxBreakDuration the same, so");
        output.WriteLine("every break lasts 2 s, as Polly's), SuccessThreshold 1, CacheTtl off, default StoreTimeout (500 ms), FailureWindow (60 s) and");
        output.WriteLine($"ProbeLeaseDuration (30 s); K = MinimumFailingEnvironments. Polly's breaker: FailureRatio 1.0 over MinimumThroughput {QuorumRun.Threshold}");
        output.WriteLine($"(it opens at the {QuorumRun.Threshold}th failure in a row), SamplingDuration 1 min, break {QuorumRun.BreakDuration.TotalSeconds:0} s.");
        output.WriteLine("Fleet OnOpened: openings of the shared circuit, from closed and again after each failed probe. Local openings: an environment's");
        output.WriteLine("own circuit (OnLocalCircuitOpened; for Polly's breaker its OnOpened). A closed episode of a sick environment: its failed calls");
        output.WriteLine("with no rejection between them. A probe: a call that reached the dependency right after a rejection (with K = 1 it may find the");
        output.WriteLine("shared circuit closed again by another environment's probe). Gaps: from a sick environment's first rejection to its first");
        output.WriteLine("probe, and between its probes. Scenario 3: the first break is the first opening's (for Polly's breaker each environment's own),");
        output.WriteLine($"the dependency stays down throughout; the target is at most environments + threshold + K = {QuorumRun.Environments + QuorumRun.Threshold + QuorumRun.Quorum} calls before the first break ended.");
    }

    private static void WriteRow(TextWriter output, QuorumScenario scenario, string store, string breaker, QuorumResult result)
    {
        var fleetOpenings = result.FleetOpenings?.ToString(CultureInfo.InvariantCulture) ?? "-";
        if (scenario.DependencyDown)
        {
            output.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"| {store} | {breaker} | {result.FleetOpeningsBeforeFirstBreakEnded?.ToString(CultureInfo.InvariantCulture) ?? "-"} | {(result.FirstFleetOpeningAfterMs is { } after ? $"{after} ms" : "-")} | {fleetOpenings} | {result.LocalOpenings} " +
                $"| {result.DeadCallsBeforeFirstBreakEnded:N0} | {result.ProbesInFirstHalfOpenWindow} | {result.DeadCalls:N0} |"));
            return;
        }

        var gaps = result.ProbeGapsMs.Count == 0
            ? "-"
            : string.Create(CultureInfo.InvariantCulture, $"{result.ProbeGapsMs.Min() / 1_000.0:0.00}-{result.ProbeGapsMs.Max() / 1_000.0:0.00} s");
        output.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"| {store} | {breaker} | {fleetOpenings} | {result.LocalOpenings} | {result.HealthyEnvironmentsRejected} of {QuorumRun.Environments - scenario.SickEnvironments} " +
            $"| {result.HealthyRejections:N0} of {result.HealthyCalls:N0} | {result.MostFailuresPerEpisode} | {string.Join(", ", result.ProbesPerSickEnvironment)} | {gaps} |"));
    }
}
