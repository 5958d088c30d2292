using System.Diagnostics;
using Polly.CircuitBreaker;

namespace Polly.Distributed.CircuitBreaker.TestKit;

/// <summary>
/// One network fault between a breaker and its real store server, through a <see cref="LoopbackFaultProxy"/>: protected
/// calls (half succeed, half fail) run while the fault lasts; then the fault ends and the shared state must be intact and
/// counting again. Used by the fault suite (assertions) and by the benchmark command that prints README's table.
/// </summary>
public static class StoreFaultScenario
{
    /// <summary>The faults, by name.</summary>
    public static IReadOnlyList<string> Faults { get; } = ["slow answers (90 % of StoreTimeout)", "black hole", "connection reset", "connection refused", "answers lost after the server applied"];

    /// <summary>Runs one fault.</summary>
    /// <param name="fault">One of <see cref="Faults"/>.</param>
    /// <param name="serverPort">The real server's port.</param>
    /// <param name="createStore">Creates a store that reaches the server through the given port.</param>
    /// <param name="storeTimeout">The breakers' StoreTimeout.</param>
    /// <param name="calls">How many protected calls run during the fault.</param>
    public static async Task<StoreFaultResult> RunAsync(string fault, int serverPort, Func<int, ICircuitStateStore> createStore, TimeSpan storeTimeout, int calls = 24)
    {
        await using var proxy = new LoopbackFaultProxy(serverPort);
        var circuitId = "fault-" + Guid.NewGuid().ToString("N");
        var direct = createStore(serverPort);
        const int SeededFailures = 2;
        await direct.WriteAsync(circuitId, CircuitSnapshot.Initial with { FailureCount = SeededFailures, LastFailureUnixMs = Now(), StateTimestampUnixMs = Now() }, CancellationToken.None);

        var throughProxy = createStore(fault == Faults[3] ? IntegrationEnvironment.FreeLoopbackPort() : proxy.Port);
        var pipeline = Build(throughProxy, circuitId, storeTimeout);

        proxy.Latency = fault == Faults[0] ? storeTimeout * 0.9 : TimeSpan.Zero;
        proxy.Fault = fault switch
        {
            _ when fault == Faults[1] => LoopbackFaultProxy.ProxyFault.BlackHole,
            _ when fault == Faults[2] => LoopbackFaultProxy.ProxyFault.Reset,
            _ when fault == Faults[4] => LoopbackFaultProxy.ProxyFault.DropResponses,
            _ => LoopbackFaultProxy.ProxyFault.None,
        };

        var foreign = 0;
        var wrong = 0;
        var worst = TimeSpan.Zero;
        await Task.WhenAll(Enumerable.Range(0, 4).Select(lane => Task.Run(async () =>
        {
            for (var i = lane; i < calls; i += 4)
            {
                var ownFailure = new HttpRequestException("own failure " + i);
                var watch = Stopwatch.StartNew();
                try
                {
                    var result = await pipeline.ExecuteAsync(_ => i % 2 == 0 ? new ValueTask<int>(i) : throw ownFailure);
                    if (result != i)
                    {
                        Interlocked.Increment(ref wrong);
                    }
                }
                catch (Exception ex) when (ReferenceEquals(ex, ownFailure))
                {
                }
                catch (Exception)
                {
                    Interlocked.Increment(ref foreign);
                }

                lock (proxy)
                {
                    worst = watch.Elapsed > worst ? watch.Elapsed : worst;
                }
            }
        })));

        proxy.Fault = LoopbackFaultProxy.ProxyFault.None;
        proxy.Latency = TimeSpan.Zero;
        var intact = await RecoversAsync(direct, circuitId, SeededFailures, Build(createStore(proxy.Port), circuitId, storeTimeout));
        return new StoreFaultResult(fault, calls, foreign, wrong, worst, intact);
    }

    private static ResiliencePipeline Build(ICircuitStateStore store, string circuitId, TimeSpan storeTimeout) =>
        new ResiliencePipelineBuilder()
            .AddDistributedCircuitBreaker(new DistributedCircuitBreakerStrategyOptions
            {
                CircuitId = circuitId,
                StateStore = store,
                Consistency = CircuitConsistency.Atomic,
                FailureThreshold = 1_000,
                StoreTimeout = storeTimeout,
            })
            .Build();

    // The shared item survived the fault unharmed (closed, readable, the seeded count kept) and the breaker counts again.
    private static async Task<bool> RecoversAsync(ICircuitStateStore direct, string circuitId, long seeded, ResiliencePipeline pipeline)
    {
        var before = await direct.ReadAsync(circuitId, CancellationToken.None);
        if (before.MalformedReason is not null || before.Snapshot.State != StoredCircuitState.Closed || before.Snapshot.FailureCount < seeded)
        {
            return false;
        }

        for (var attempt = 0; attempt < 100; attempt++)
        {
            try
            {
                await pipeline.ExecuteAsync<int>(_ => throw new HttpRequestException("after the fault"));
            }
            catch (HttpRequestException)
            {
            }
            catch (BrokenCircuitException)
            {
                return false;
            }

            if ((await direct.ReadAsync(circuitId, CancellationToken.None)).Snapshot.FailureCount > before.Snapshot.FailureCount)
            {
                return true;
            }

            await Task.Delay(100);
        }

        return false;
    }

    private static long Now() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
}
