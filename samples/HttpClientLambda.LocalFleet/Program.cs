using System.Globalization;
using HttpClientLambda.LocalFleet;

// The local fleet demo: the same traffic against a dying and healing downstream, first with Polly's in-memory breaker
// in every environment, then with the distributed breaker (last writer wins, then atomic) sharing one circuit.
// Usage: HttpClientLambda.LocalFleet [--environments N] [--store dynamodb|redis] [--chart PATH.png]
// The store comes from the environment: DYNAMODB_SERVICE_URL and CIRCUITBREAKER_TABLE, or CIRCUITBREAKER_REDIS (eng/sample.sh sets them).
if (args.Contains(ExecutionEnvironment.Flag))
{
    return await ExecutionEnvironment.ServeAsync();
}

var environments = 20;
var store = "dynamodb";
var chart = "fleet-demo.png";
for (var i = 0; i + 1 < args.Length; i += 2)
{
    switch (args[i])
    {
        case "--environments":
            environments = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
            break;
        case "--store":
            store = args[i + 1];
            break;
        case "--chart":
            chart = args[i + 1];
            break;
        default:
            Console.Error.WriteLine($"Unknown option {args[i]}. Usage: [--environments N] [--store dynamodb|redis] [--chart PATH.png]");
            return 2;
    }
}

var storeVariables = new Dictionary<string, string> { ["CIRCUITBREAKER_STORE"] = store };
foreach (var name in new[] { "DYNAMODB_SERVICE_URL", "CIRCUITBREAKER_TABLE", "CIRCUITBREAKER_REDIS", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION" })
{
    if (Environment.GetEnvironmentVariable(name) is { } value)
    {
        storeVariables[name] = value;
    }
}

if (store == "dynamodb")
{
    await FleetStore.CreateDynamoDbTableAsync(storeVariables);
}

var settings = new ScenarioSettings(
    environments,
    InvocationInterval: TimeSpan.FromMilliseconds(200),
    HealthyPhase: TimeSpan.FromSeconds(2),
    DeadPhase: TimeSpan.FromSeconds(6),
    MaxRecoveryPhase: TimeSpan.FromSeconds(10),
    TimelineStep: TimeSpan.FromSeconds(1));

BreakerSetup[] setups =
[
    new("Polly's in-memory circuit breaker", "in-process", "LastWriterWins"),
    new($"Polly.Distributed, LastWriterWins, {store}", "distributed", "LastWriterWins"),
    new($"Polly.Distributed, Atomic, {store}", "distributed", "Atomic"),
];

Console.WriteLine($"Local fleet demo: {environments} environments, each invoked every {settings.InvocationInterval.TotalMilliseconds} ms; " +
    $"the downstream dies after {settings.HealthyPhase.TotalSeconds} s and heals {settings.DeadPhase.TotalSeconds} s later.");
Console.WriteLine("Breaker: 5 failures open it, break 1 s doubling to 4 s, 2 successes close it; 1 retry, 2 s attempt timeout.");

using var downstream = new DemoDownstream(TimeProvider.System);
var results = new List<ScenarioResult>();
for (var i = 0; i < setups.Length; i++)
{
    results.Add(await new FleetScenario(settings, downstream, storeVariables).RunAsync(setups[i], i + 1, setups.Length));
}

Console.WriteLine();
Console.WriteLine("== Summary ==");
Console.WriteLine($"  {"breaker",-42} {"calls to the dead downstream",28} {"calls while recovering",23} {"heal to all-ok",15} {"rejected",9}");
foreach (var result in results)
{
    var recovery = result.TimeToRecover is { } t ? $"{t.TotalSeconds:0.0} s" : "not in time";
    Console.WriteLine($"  {result.Setup.Title,-42} {result.CallsDuringOutage,28} {result.CallsDuringRecovery,23} {recovery,15} {result.RejectedCalls,9}");
}

FleetChart.Save(results, TimeSpan.FromMilliseconds(250), chart);
Console.WriteLine();
Console.WriteLine($"Chart of the calls that reached the downstream: {Path.GetFullPath(chart)}");
return 0;
