using System.Diagnostics;
using System.Globalization;

namespace Polly.Distributed.Benchmarks;

/// <summary>
/// The distributed breaker under load against the real emulator (dynalite) and redis-server beside it, default options but
/// where stated: the loop (<see cref="EmulatorLoop"/>) with and without a cache, beside Polly's own breaker, and
/// "200 x 3" (<see cref="ConcurrentFailures"/>), each measured against its targets.
/// </summary>
internal static class EmulatorLoad
{
    private const string Table = "emulator-load";

    /// <summary>Lets the store finish the requests the last run gave up on before the next run starts.</summary>
    private static readonly TimeSpan Drain = TimeSpan.FromSeconds(5);

    public static async Task<int> RunAsync(string? dynamoDbUrl, string? redis, TextWriter output)
    {
        var watch = Stopwatch.StartNew();
        await using var stores = await FleetStores.ConnectAsync(dynamoDbUrl, redis, Table);
        var kinds = stores.Kinds(["dynamodb", "redis"]).OrderBy(kind => kind == "redis").ToArray();
        WriteHeader(output);

        var runs = new List<(string Name, LoopResult Result)> { ("Polly's own breaker", await EmulatorLoop.RunPollyAsync()) };
        foreach (var kind in kinds)
        {
            foreach (var cacheTtl in new[] { TimeSpan.Zero, TimeSpan.FromMilliseconds(250) })
            {
                var clients = new List<IDisposable>();
                var result = await EmulatorLoop.RunDistributedAsync(stores.NewFleet(kind, clients), cacheTtl);
                clients.ForEach(client => client.Dispose());
                runs.Add(($"{kind}, cache {(cacheTtl > TimeSpan.Zero ? $"{cacheTtl.TotalMilliseconds:0} ms" : "off")}", result));
                await Task.Delay(Drain);
            }
        }

        output.WriteLine();
        output.WriteLine("### Loop");
        output.WriteLine();
        WriteLoop(output, runs);

        output.WriteLine();
        output.WriteLine($"### {ConcurrentFailures.Callers} x {ConcurrentFailures.FailuresPerCaller}");
        output.WriteLine();
        output.WriteLine("| store | failures lost | failing call p50 (added) | p99 | OnStateStoreFailure | 0 lost | p99 at most StoreTimeout |");
        output.WriteLine("|---|---:|---:|---:|---:|---|---|");
        foreach (var kind in kinds)
        {
            var result = await ConcurrentFailures.RunAsync(stores.NewFleet(kind));
            output.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"| {kind} | {result.Lost:N0} of {ConcurrentFailures.Callers * ConcurrentFailures.FailuresPerCaller:N0} | {result.AddedP50Ms:0.0} ms | {result.AddedP99Ms:0.0} ms | {result.StoreFailures:N0} " +
                $"| {Held(result.Lost == 0)} | {Held(result.AddedP99Ms <= 500)} |"));
        }

        output.WriteLine();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Run time: {watch.Elapsed.TotalMinutes:0.0} min on {Environment.ProcessorCount} cores shared with other work."));
        return 0;
    }

    private static void WriteHeader(TextWriter output)
    {
        output.WriteLine("Emulator load: the distributed breaker against dynalite (the DynamoDB emulator) and redis-server, local servers on this 2-core");
        output.WriteLine("machine shared with other work, default options but where stated (StoreTimeout 500 ms, FailureWindow 60 s, ProbeLeaseDuration 30 s).");
        output.WriteLine();
        output.WriteLine($"Loop: {EmulatorLoop.Environments:N0} environments in one process, each with its own pipeline, its own store instance (for DynamoDB over its own");
        output.WriteLine("AmazonDynamoDBClient with its own connection pool; Redis store instances share one connection) and its own environment id, on one");
        output.WriteLine($"circuit: Atomic, FailureThreshold {EmulatorLoop.Threshold}, BreakDuration {EmulatorLoop.BreakDuration.TotalSeconds:0} s, MaxBreakDuration {EmulatorLoop.MaxBreakDuration.TotalSeconds:0} s, SuccessThreshold 1. Each environment calls in");
        output.WriteLine($"a loop; the dependency takes 20 ms, healthy for {EmulatorLoop.DeathAtMs / 1_000} s, then dead (it throws) until {EmulatorLoop.HealAtMs / 1_000} s, then healed; the run lasts {EmulatorLoop.DurationMs / 1_000} s; after a rejection an");
        output.WriteLine("environment pauses 5 ms. Polly's own breaker: one per environment, FailureRatio 1.0 over MinimumThroughput 5, break 2 s,");
        output.WriteLine($"SamplingDuration {EmulatorLoop.PollySamplingDuration.TotalMilliseconds:0} ms (over a minute the first second's successes keep it from ever opening).");
        output.WriteLine("Definitions (times from the run's start; the death at 1 s): the first break ends at the first opening's nextAttempt read from the");
        output.WriteLine("store (or its last failure + 2 s while the count at the threshold waits for its opening; Polly: the first OnOpened + 2 s); dead");
        output.WriteLine("calls: calls that reached the dependency from the death until then (or the heal); probes in the first half-open window: calls that");
        output.WriteLine("reached the dependency in the 2 s from the first break's end until the first call in it that succeeded had its answer (one success closes the circuit: the shared circuit's first");
        output.WriteLine("success fleet-wide, Polly's each environment's own; calls after it are calls to a closed circuit); store requests: every request the");
        output.WriteLine("breakers made to the store, started after the first second; OnOpened within the first break: until the first break's end read from");
        output.WriteLine("the store (an OnOpened is raised when the store's answer arrives, late when requests queue), for Polly's until it could end;");
        output.WriteLine($"answered in time: environments with no OnStateStoreFailure in the first {EmulatorLoop.AnsweredWindowMs / 1_000.0:0.0} s after the death; heal to first success: from");
        output.WriteLine("the heal to the first call that reached the (healed) dependency. Store failures are OnStateStoreFailure events, by operation and error.");
        output.WriteLine($"Targets: one OnOpened within the first break; at most 10 probes in the first half-open window; after the first second no sustained");
        output.WriteLine($"store timeouts (timeouts in two whole seconds in a row); dead calls at most {EmulatorLoop.Environments:N0} x {EmulatorLoop.Threshold}, no more than the {EmulatorLoop.DeadCallsBeforeStoreLoadWork:N0} measured");
        output.WriteLine("before reads were spaced out under pressure, and at most 2 per environment for every environment the store answered in time (for");
        output.WriteLine("Polly's breaker: every environment).");
        output.WriteLine();
        output.WriteLine($"{ConcurrentFailures.Callers} x {ConcurrentFailures.FailuresPerCaller}: one process, one pipeline (one store instance), {ConcurrentFailures.Callers} concurrent callers each failing {ConcurrentFailures.FailuresPerCaller} times in a row at once");
        output.WriteLine("(the dependency fails at once; Atomic, FailureThreshold 100,000). Failures lost: 600 minus the stored failureCount, read through a new");
        output.WriteLine("store instance 1 s after the last call. Added: a failing call's whole time. Targets: 0 lost; p99 at most StoreTimeout (500 ms).");
    }

    private static void WriteLoop(TextWriter output, List<(string Name, LoopResult Result)> runs)
    {
        output.WriteLine($"| | {string.Join(" | ", runs.Select(run => run.Name))} |");
        output.WriteLine($"|---|{string.Concat(runs.Select(_ => "---:|"))}");
        Row("OnOpened, fleet-wide", result => $"{result.OpenedAtMs.Count:N0}");
        Row("OnOpened at (s, first 5)", result => string.Join(", ", result.OpenedAtMs.Take(5).Select(ms => (ms / 1_000.0).ToString("0.00", CultureInfo.InvariantCulture))));
        Row("first OnOpened after the death", result => result.FirstOpenedAfterDeathMs is { } ms ? $"{ms} ms" : "none");
        Row("OnOpened within the first break", result => $"{result.OpenedWithinFirstBreak:N0}");
        Row("dead calls before the first break ended", result => $"{result.DeadCallsBeforeFirstBreakEnded:N0}");
        Row("most per environment", result => $"{result.MostDeadCallsPerEnvironment:N0}");
        Row("environments with at most 2", result => $"{result.EnvironmentsWithAtMostTwo:N0}");
        Row("probes in the first half-open window", result => result.ProbesInFirstHalfOpenWindow is { } probes ? $"{probes:N0}" : "-");
        Row("store requests per second after the first second", result => result.StoreRequestsPerSecond is { } perSecond ? $"{perSecond:N0}" : "-");
        Row($"store requests started in seconds 0 to {(EmulatorLoop.DurationMs / 1_000) - 1} (median time)", result => result.RequestsBySecond is { } bySecond
            ? string.Join(", ", bySecond.Select(second => $"{second.Started:N0} ({second.MedianMs.ToString("0", CultureInfo.InvariantCulture)} ms)"))
            : "-");
        Row("of those, reads / counts / other writes", result => result.RequestsBySecond is { } bySecond
            ? string.Join(", ", bySecond.Select(second => $"{second.Reads:N0} / {second.Counts:N0} / {second.Started - second.Reads - second.Counts:N0}"))
            : "-");
        Row("store failures after the first second", result => result.StoreFailuresAfterFirstSecond is { } failures
            ? failures.Count == 0 ? "0" : string.Join("; ", failures.Select(failure => $"{failure.Key} {failure.Value:N0}"))
            : "-");
        Row($"timeouts in seconds 1 to {(EmulatorLoop.DurationMs / 1_000) - 1}", result => result.TimeoutsPerSecond is { } perSecond ? string.Join(", ", perSecond) : "-");
        Row("last second with a store timeout", result => result.TimeoutsPerSecond is { } perSecond ? perSecond.Select((timeouts, index) => (Timeouts: timeouts, Second: index + 1)).LastOrDefault(second => second.Timeouts > 0).Second is var last and > 0 ? $"{last}" : "none" : "-");
        Row("environments answered in time / not", result => result.AnsweredInTime is { } answered ? $"{answered:N0} / {EmulatorLoop.Environments - answered:N0}" : "-");
        Row("most dead calls per environment answered in time", result => result.MostDeadCallsAnswered is { } most ? $"{most:N0}" : "-");
        Row("dead calls of those not answered (most per environment)", result => result.DeadCallsNotAnswered is { } calls ? $"{calls:N0} ({result.MostDeadCallsNotAnswered:N0})" : "-");
        Row("heal to first success", result => result.HealToFirstSuccessMs is { } ms ? $"{ms} ms" : "none");
        Row("target: one OnOpened within the first break", result => Held(result.OneOpening));
        Row("target: at most 10 probes", result => Held(result.FewProbes));
        Row("target: no sustained store timeouts", result => result.TimeoutsPerSecond is null ? "-" : Held(result.NoSustainedTimeouts));
        Row("target: dead calls bounded", result => Held(result.DeadCallsBounded));

        void Row(string name, Func<LoopResult, string> cell) =>
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {name} | {string.Join(" | ", runs.Select(run => cell(run.Result)))} |"));
    }

    private static string Held(bool held) => held ? "held" : "**not held**";
}
