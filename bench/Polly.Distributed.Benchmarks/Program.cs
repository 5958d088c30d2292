using System.Globalization;
using BenchmarkDotNet.Running;
using Polly.Distributed.Benchmarks;

// "fleet <dynamodb-url> <redis host:port> [sizes, e.g. 50,200,1000] [stores, e.g. memory,dynamodb]": the fleet simulation
// against local servers (eng/bench.sh starts dynalite and redis-server; "-" skips a store). Anything else: BenchmarkDotNet.
if (args.Length >= 3 && args[0] == "fleet")
{
    var sizes = args.Length > 3 ? args[3].Split(',').Select(size => int.Parse(size, CultureInfo.InvariantCulture)).ToArray() : [50, 200, 1_000];
    var stores = args.Length > 4 ? args[4].Split(',') : null;
    return await FleetSimulation.RunAsync(args[1] == "-" ? null : args[1], args[2] == "-" ? null : args[2], sizes, stores, Console.Out);
}

// "faults <dynamodb-url> <redis host:port>": README's failure behaviour table (the fault suite's scenarios, measured).
if (args.Length >= 3 && args[0] == "faults")
{
    return await FailureBehaviour.RunAsync(args[1], args[2], Console.Out);
}

// "quorum <dynamodb-url> <redis host:port> [stores, e.g. memory,redis]": the quorum simulation against local servers ("-"
// skips a store).
if (args.Length >= 3 && args[0] == "quorum")
{
    return await QuorumSimulation.RunAsync(args[1] == "-" ? null : args[1], args[2] == "-" ? null : args[2], args.Length > 3 ? args[3].Split(',') : null, Console.Out);
}

// "emulator <dynamodb-url> <redis host:port>": the loop of 1,000 environments and "200 x 3" under load against local servers
// ("-" skips a store).
if (args.Length >= 3 && args[0] == "emulator")
{
    return await EmulatorLoad.RunAsync(args[1] == "-" ? null : args[1], args[2] == "-" ? null : args[2], Console.Out);
}

// "capacity [sizes, e.g. 1000,10000,50000] [stores, e.g. dynamodb,redis]": the capacity of one circuit, the real breaker
// against simulated stores on a virtual clock (no servers).
if (args.Length >= 1 && args[0] == "capacity")
{
    var sizes = args.Length > 1 ? args[1].Split(',').Select(size => int.Parse(size, CultureInfo.InvariantCulture)).ToArray() : [1_000, 10_000, 50_000];
    return await CapacitySimulation.RunAsync(sizes, args.Length > 2 ? args[2].Split(',') : null, Console.Out);
}

// "memory": bytes per breaker and per cached circuit, and the cache bound with 20,000 distinct circuit ids.
if (args.Length >= 1 && args[0] == "memory")
{
    return MemoryFootprint.Run(Console.Out);
}

BenchmarkSwitcher.FromAssembly(typeof(HotPathBenchmarks).Assembly).Run(args);
return 0;
