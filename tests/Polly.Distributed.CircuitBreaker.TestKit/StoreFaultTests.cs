using Xunit;

namespace Polly.Distributed.CircuitBreaker.TestKit;

/// <summary>
/// Every network fault between a breaker and its real store costs a call at most StoreTimeout (plus a scheduling margin
/// that a busy 2-core machine keeps), no store exception reaches a caller, each call gets its own outcome, and the shared
/// state is intact and counting again once the fault ends. Derive once per store.
/// </summary>
public abstract class StoreFaultTests
{
    private static readonly TimeSpan StoreTimeout = TimeSpan.FromMilliseconds(300);
    // Generous for four lanes on two busy cores, and still below what an unbounded call would take: the store clients' own
    // timeouts (2 s per DynamoDB attempt, 5 s for a Redis command) and a black hole that never answers.
    private static readonly TimeSpan SchedulingMargin = TimeSpan.FromMilliseconds(1_500);

    public static TheoryData<string> Faults => [.. StoreFaultScenario.Faults];

    /// <summary>Gets the real server's port.</summary>
    protected abstract int ServerPort { get; }

    /// <summary>Creates a store that reaches the server through <paramref name="port"/>.</summary>
    protected abstract ICircuitStateStore CreateStore(int port);

    /// <summary>Prepares the server (a table, for example) before a fault runs.</summary>
    protected virtual Task PrepareAsync() => Task.CompletedTask;

    [Theory]
    [MemberData(nameof(Faults))]
    public async Task Execute_StoreFault_BoundedOwnOutcomesAndStateIntact(string fault)
    {
        await PrepareAsync();
        var result = await StoreFaultScenario.RunAsync(fault, ServerPort, CreateStore, StoreTimeout);

        Assert.Equal(0, result.ForeignExceptions);
        Assert.Equal(0, result.WrongResults);
        Assert.True(result.WorstCallTime <= StoreTimeout + SchedulingMargin, $"worst call {result.WorstCallTime.TotalMilliseconds:0} ms");
        Assert.True(result.StateIntact, "the shared state was harmed or the breaker did not count again after the fault");
    }
}
