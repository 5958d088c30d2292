using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using Polly.Distributed.CircuitBreaker.TestKit;

namespace Polly.Distributed.CircuitBreaker.Sidecar.Tests;

/// <summary>The sidecar's bound on the circuits it serves, through its routes, with the in-memory store.</summary>
public sealed class SidecarServerCapacityTests
{
    private const int MaxCircuits = 4;

    [Fact]
    public async Task Route_ManyNewCircuitsAtOnce_ServesAtMostMaxCircuitsAndAnswers429ToTheRest()
    {
        // A race shows only sometimes: several bursts, each on a sidecar of its own, make a lost one unlikely to pass.
        for (var round = 0; round < 50; round++)
        {
            var template = new DistributedCircuitBreakerStrategyOptions { CircuitId = "template" };
            await using var server = new SidecarServer(
                IntegrationEnvironment.FreeLoopbackPort(),
                new SidecarCircuits(template, new InMemoryCircuitStateStore(), new FakeTimeProvider(), MaxCircuits));

            var answers = await BurstAsync(server, requests: 128);

            var served = answers.Where(a => a.Status == 200).Select(a => a.Id).ToList();
            Assert.Equal(MaxCircuits, served.Count);
            Assert.All(answers.Where(a => a.Status != 200), a =>
            {
                Assert.Equal(429, a.Status);
                Assert.Equal($"this sidecar already serves {MaxCircuits} circuits", JsonDocument.Parse(a.Body).RootElement.GetProperty("error").GetString());
            });

            foreach (var id in served)
            {
                Assert.Equal(200, (await server.RouteAsync("GET", $"/circuit/{id}", probeToken: null)).Status);
            }

            Assert.Equal(429, (await server.RouteAsync("GET", "/circuit/one-more", probeToken: null)).Status);
        }
    }

    // Requests for as many new circuits, released together; checks and reports alike make a circuit.
    private static async Task<(string Id, int Status, byte[] Body)[]> BurstAsync(SidecarServer server, int requests)
    {
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var pending = Enumerable.Range(0, requests).Select(i => Task.Run(async () =>
        {
            await start.Task;
            var id = $"burst-{i}";
            var (status, body) = i % 2 == 0
                ? await server.RouteAsync("GET", $"/circuit/{id}", probeToken: null)
                : await server.RouteAsync("POST", $"/circuit/{id}/failure", probeToken: null);
            return (id, status, body);
        })).ToArray();
        start.SetResult();
        return await Task.WhenAll(pending);
    }
}
