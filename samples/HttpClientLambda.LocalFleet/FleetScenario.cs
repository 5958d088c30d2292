using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Polly.Distributed.CircuitBreaker;

namespace HttpClientLambda.LocalFleet;

/// <summary>
/// One run of the fleet: start the environments, warm them up, invoke each on a fixed interval, kill the downstream,
/// heal it, and print a timeline of what reached the downstream, what was rejected and the shared circuit state.
/// </summary>
internal sealed class FleetScenario(ScenarioSettings settings, DemoDownstream downstream, IReadOnlyDictionary<string, string> storeVariables)
{
    private readonly TimeProvider _time = TimeProvider.System;

    public async Task<ScenarioResult> RunAsync(BreakerSetup setup, int number, int count)
    {
        var functionName = $"fleet-demo-{number}-{DateTime.UtcNow:HHmmss}";
        var variables = new Dictionary<string, string>(storeVariables)
        {
            ["DOWNSTREAM_URL"] = downstream.Url.ToString(),
            ["AWS_LAMBDA_FUNCTION_NAME"] = functionName,
            ["CIRCUITBREAKER_KIND"] = setup.Kind,
            ["CircuitBreaker__Consistency"] = setup.Consistency,
            ["CircuitBreaker__FailureThreshold"] = "5",
            ["CircuitBreaker__SuccessThreshold"] = "2",
            ["CircuitBreaker__BreakDuration"] = "00:00:01",
            ["CircuitBreaker__MaxBreakDuration"] = "00:00:04",
            ["CircuitBreaker__FailureWindow"] = "00:00:10",
            ["CircuitBreaker__StoreTimeout"] = "00:00:01",
            ["Logging__LogLevel__Default"] = "Warning",
        };

        Console.WriteLine();
        Console.WriteLine($"== {number}/{count}: {setup.Title}: {settings.Environments} execution environments (one process each) ==");
        var environments = Enumerable.Range(0, settings.Environments).Select(_ => new ExecutionEnvironment(variables)).ToArray();
        try
        {
            // Cold starts: every environment builds its services and pipeline once, as a first Lambda invocation would.
            await Task.WhenAll(environments.Select(e => e.InvokeAsync("/")));
            await using var observer = FunctionServices.Build(new ConfigurationBuilder().AddInMemoryCollection(variables!).Build());
            var store = observer.GetRequiredService<ICircuitStateStore>();
            var circuitId = Polly.DistributedCircuitBreakerResilienceHandlerExtensions.GetCircuitId(
                new HttpDistributedCircuitBreakerStrategyOptions { CircuitId = functionName },
                FunctionServices.DownstreamClient,
                FunctionServices.DownstreamPipeline,
                downstream.Url);

            var origin = _time.GetTimestamp();
            var outcomes = new List<(TimeSpan At, string Outcome)>();
            var states = new List<(TimeSpan At, string State)>();
            using var stop = new CancellationTokenSource();
            var drivers = environments.Select(e => DriveAsync(e, origin, outcomes, stop.Token)).ToList();

            await Task.Delay(settings.HealthyPhase);
            await SetDownstreamHealthAsync(false);
            var killedAt = _time.GetElapsedTime(origin);
            var observing = ObserveAsync(setup, store, circuitId, origin, states, stop.Token);
            await Task.Delay(settings.DeadPhase);
            await SetDownstreamHealthAsync(true);
            var healedAt = _time.GetElapsedTime(origin);

            var recoveredAt = await WaitForRecoveryAsync(outcomes, healedAt, origin);
            await stop.CancelAsync();
            await Task.WhenAll(drivers);
            await observing;

            var calls = downstream.CallsSince(origin);
            PrintTimeline(calls, outcomes, states, killedAt, healedAt, recoveredAt ?? _time.GetElapsedTime(origin), setup);
            var recoveryEnd = recoveredAt ?? TimeSpan.MaxValue;
            return new ScenarioResult(
                setup,
                calls.Count(c => c >= killedAt && c < healedAt),
                calls.Count(c => c >= healedAt && c < recoveryEnd),
                recoveredAt - healedAt,
                outcomes.Count(o => o.Outcome == "rejected"),
                calls,
                killedAt,
                healedAt);
        }
        finally
        {
            foreach (var environment in environments)
            {
                environment.Dispose();
            }
        }
    }

    private async Task DriveAsync(ExecutionEnvironment environment, long origin, List<(TimeSpan, string)> outcomes, CancellationToken stop)
    {
        using var ticks = new PeriodicTimer(settings.InvocationInterval, _time);
        while (!stop.IsCancellationRequested)
        {
            var response = await environment.InvokeAsync("/");
            var outcome = JsonSerializer.Deserialize(response.Body, FunctionJsonContext.Default.CallResult)?.Outcome ?? "failed";
            lock (outcomes)
            {
                outcomes.Add((_time.GetElapsedTime(origin), outcome));
            }

            try
            {
                await ticks.WaitForNextTickAsync(stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task ObserveAsync(BreakerSetup setup, ICircuitStateStore store, string circuitId, long origin, List<(TimeSpan, string)> states, CancellationToken stop)
    {
        if (setup.Kind != "distributed")
        {
            return;
        }

        using var ticks = new PeriodicTimer(TimeSpan.FromMilliseconds(100), _time);
        try
        {
            do
            {
                var entry = await store.ReadAsync(circuitId, stop);
                lock (states)
                {
                    states.Add((_time.GetElapsedTime(origin), CircuitSnapshotSchema.FormatState(entry.Snapshot.State)));
                }
            }
            while (await ticks.WaitForNextTickAsync(stop));
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task<TimeSpan?> WaitForRecoveryAsync(List<(TimeSpan At, string Outcome)> outcomes, TimeSpan healedAt, long origin)
    {
        // Recovered: a full round in which every environment's call succeeded, after the heal.
        var deadline = healedAt + settings.MaxRecoveryPhase;
        while (_time.GetElapsedTime(origin) < deadline)
        {
            await Task.Delay(settings.InvocationInterval);
            lock (outcomes)
            {
                var afterHeal = outcomes.Where(o => o.At >= healedAt).ToList();
                for (var i = 0; i + settings.Environments <= afterHeal.Count; i++)
                {
                    if (afterHeal.Skip(i).Take(settings.Environments).All(o => o.Outcome == "ok"))
                    {
                        return afterHeal[i].At;
                    }
                }
            }
        }

        return null;
    }

    private async Task SetDownstreamHealthAsync(bool healthy)
    {
        // The same endpoint the function's /toggle route calls.
        using var client = new HttpClient { BaseAddress = downstream.Url };
        while (downstream.Healthy != healthy)
        {
            using var response = await client.PostAsync(new Uri("/toggle", UriKind.Relative), content: null);
        }
    }

    private void PrintTimeline(
        IReadOnlyList<TimeSpan> calls,
        List<(TimeSpan At, string Outcome)> outcomes,
        List<(TimeSpan At, string State)> states,
        TimeSpan killedAt,
        TimeSpan healedAt,
        TimeSpan end,
        BreakerSetup setup)
    {
        Console.WriteLine($"   time   downstream  downstream     ok  failed  rejected  shared circuit");
        Console.WriteLine($"          health      calls");
        var step = settings.TimelineStep;
        for (var from = TimeSpan.Zero; from < end; from += step)
        {
            var to = from + step;
            var health = to <= killedAt || from >= healedAt ? "up" : from >= killedAt && to <= healedAt ? "DEAD" : "changes";
            var inStep = outcomes.Where(o => o.At >= from && o.At < to).ToList();
            var circuit = setup.Kind != "distributed"
                ? "(none: each environment has its own)"
                : string.Join(" ", states.Where(s => s.At >= from && s.At < to).Select(s => s.State).Distinct());
            Console.WriteLine(string.Format(
                CultureInfo.InvariantCulture,
                "  {0,4:0.0}s   {1,-10}  {2,5}   {3,6}  {4,6}  {5,8}  {6}",
                from.TotalSeconds,
                health,
                calls.Count(c => c >= from && c < to),
                inStep.Count(o => o.Outcome == "ok"),
                inStep.Count(o => o.Outcome == "failed"),
                inStep.Count(o => o.Outcome == "rejected"),
                circuit));
        }
    }
}
