namespace Polly.Distributed.CircuitBreaker.TestKit;

/// <summary>What one <see cref="StoreFaultScenario"/> run saw.</summary>
/// <param name="Fault">The fault.</param>
/// <param name="Calls">Protected calls made during the fault.</param>
/// <param name="ForeignExceptions">Calls that ended with an exception other than their own (target 0).</param>
/// <param name="WrongResults">Calls that returned something other than their own result (target 0).</param>
/// <param name="WorstCallTime">The longest protected call (the dependency answers at once, so this is the breaker's added latency).</param>
/// <param name="StateIntact">Whether the shared state was unharmed and counting again after the fault ended.</param>
public sealed record StoreFaultResult(string Fault, int Calls, int ForeignExceptions, int WrongResults, TimeSpan WorstCallTime, bool StateIntact);
