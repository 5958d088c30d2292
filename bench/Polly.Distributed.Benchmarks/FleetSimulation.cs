using System.Diagnostics;
using Amazon.DynamoDBv2;
using Amazon.Runtime;
using Polly.CircuitBreaker;
using Polly.Distributed.CircuitBreaker;
using Polly.Distributed.CircuitBreaker.DynamoDb;

namespace Polly.Distributed.Benchmarks;

/// <summary>
/// The measurement SPEC.md quotes for the Node.js library: 50 execution environments (each with its own breaker and its
/// own DynamoDB client) call a dead dependency at once, each until its breaker rejects; threshold 5.
/// Counts the calls that reached the dependency and what the shared item says when the circuit opened.
/// </summary>
internal static class FleetSimulation
{
    private const int Environments = 50;
    private const int Threshold = 5;
    private const int MaxCallsPerEnvironment = 50;

    public static async Task<int> RunAsync(string serviceUrl, int rounds)
    {
        Console.WriteLine($"Fleet simulation: {Environments} environments, threshold {Threshold}, dead dependency, DynamoDB-compatible server at {serviceUrl}, {rounds} rounds.");
        Console.WriteLine($"{"breaker",-32} {"calls to dead dependency",26} {"stored failureCount",20} {"opens",6} {"time",8}");
        await RunAsync("Polly in-memory (no sharing)", serviceUrl: null, rounds, consistency: default);
        foreach (var consistency in new[] { CircuitConsistency.LastWriterWins, CircuitConsistency.Atomic })
        {
            await RunAsync($"Polly.Distributed {consistency}", serviceUrl, rounds, consistency);
        }

        return 0;
    }

    // serviceUrl null: Polly's own in-memory breaker in every environment.
    private static async Task RunAsync(string title, string? serviceUrl, int rounds, CircuitConsistency consistency)
    {
        var calls = new List<int>();
        var stored = new List<long>();
        var opens = new List<int>();
        var watch = Stopwatch.StartNew();
        for (var round = 0; round < rounds; round++)
        {
            var circuitId = $"fleet-{Guid.NewGuid():N}";
            var opened = 0;
            var clients = new List<AmazonDynamoDBClient>();
            ValueTask CountOpen()
            {
                Interlocked.Increment(ref opened);
                return default;
            }

            var pipelines = Enumerable.Range(0, Environments).Select(_ =>
            {
                if (serviceUrl is null)
                {
                    return new ResiliencePipelineBuilder().AddCircuitBreaker(new CircuitBreakerStrategyOptions
                    {
                        FailureRatio = 1.0,
                        MinimumThroughput = Threshold,
                        SamplingDuration = TimeSpan.FromMinutes(1),
                        BreakDuration = TimeSpan.FromMinutes(1),
                        OnOpened = _ => CountOpen(),
                    }).Build();
                }

                var client = CreateClient(serviceUrl);
                clients.Add(client);
                return new ResiliencePipelineBuilder().AddDistributedCircuitBreaker(new DistributedCircuitBreakerStrategyOptions
                {
                    CircuitId = circuitId,
                    StateStore = new DynamoDbCircuitStateStore(client, new DynamoDbCircuitStateStoreOptions { TableName = "fleet-simulation" }),
                    FailureThreshold = Threshold,
                    BreakDuration = TimeSpan.FromMinutes(1),
                    MaxBreakDuration = TimeSpan.FromMinutes(1),
                    StoreTimeout = TimeSpan.FromSeconds(10),
                    Consistency = consistency,
                    OnOpened = _ => CountOpen(),
                }).Build();
            }).ToArray();

            var reached = 0;
            using var start = new ManualResetEventSlim();
            var environments = pipelines.Select(pipeline => Task.Run(async () =>
            {
                start.Wait();
                for (var i = 0; i < MaxCallsPerEnvironment; i++)
                {
                    try
                    {
                        await pipeline.ExecuteAsync<int>(_ =>
                        {
                            Interlocked.Increment(ref reached);
                            throw new HttpRequestException("dependency is dead");
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
            })).ToArray();
            start.Set();
            await Task.WhenAll(environments);

            calls.Add(reached);
            opens.Add(opened);
            if (serviceUrl is not null)
            {
                var store = new DynamoDbCircuitStateStore(clients[0], new DynamoDbCircuitStateStoreOptions { TableName = "fleet-simulation", ConsistentRead = true });
                stored.Add((await store.ReadAsync(circuitId, CancellationToken.None)).Snapshot.FailureCount);
            }

            clients.ForEach(c => c.Dispose());
        }

        var storedText = stored.Count == 0 ? "n/a" : $"{stored.Min()}..{stored.Max()}";
        Console.WriteLine($"{title,-32} {Range(calls),26} {storedText,20} {Range(opens),6} {watch.Elapsed.TotalSeconds / rounds,7:0.00}s");
    }

    private static string Range(List<int> values) =>
        values.Min() == values.Max() ? $"{values.Min()}" : $"{values.Min()}..{values.Max()} (mean {values.Average():0})";

    public static AmazonDynamoDBClient CreateClient(string serviceUrl) => new(
        new BasicAWSCredentials("local", "local"),
        new AmazonDynamoDBConfig { ServiceURL = serviceUrl, AuthenticationRegion = "us-east-1" });
}
