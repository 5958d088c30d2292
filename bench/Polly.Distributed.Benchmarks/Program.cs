using System.Globalization;
using BenchmarkDotNet.Running;
using Polly.Distributed.Benchmarks;
using Polly.Distributed.CircuitBreaker.DynamoDb;

// "fleet <dynamodb-url> [rounds]": the fleet simulation against a DynamoDB-compatible server (eng/bench.sh starts dynalite).
// Anything else: BenchmarkDotNet (for example --filter '*HotPath*').
if (args.Length >= 2 && args[0] == "fleet")
{
    using (var client = FleetSimulation.CreateClient(args[1]))
    {
        await new DynamoDbCircuitStateStore(client, new DynamoDbCircuitStateStoreOptions { TableName = "fleet-simulation" }).CreateTableIfNotExistsAsync();
    }

    return await FleetSimulation.RunAsync(args[1], args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 5);
}

BenchmarkSwitcher.FromAssembly(typeof(HotPathBenchmarks).Assembly).Run(args);
return 0;
