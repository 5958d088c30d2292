namespace Polly.Distributed.CircuitBreaker.Telemetry;

/// <summary>
/// The arguments of <see cref="DistributedCircuitBreakerEvents.OnCircuitOpenedOnLastKnownState"/>: the failures this process
/// knows of (the store's last count and its own since) reached the threshold, and it rejects calls until its break ends
/// or the store answers again.
/// </summary>
internal readonly record struct LastKnownCircuitOpening(string CircuitId, long FailureCount);
