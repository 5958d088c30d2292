namespace Polly.Distributed.Benchmarks;

/// <summary>What the emulator load's "200 x 3" measured.</summary>
/// <param name="Lost">Failures not in the stored count read afterwards (past any cache).</param>
/// <param name="AddedP50Ms">The median time the breaker added to a failing call (the dependency fails at once).</param>
/// <param name="AddedP99Ms">Its 99th percentile.</param>
/// <param name="StoreFailures">OnStateStoreFailure events.</param>
internal sealed record ConcurrentFailuresResult(long Lost, double AddedP50Ms, double AddedP99Ms, int StoreFailures);
