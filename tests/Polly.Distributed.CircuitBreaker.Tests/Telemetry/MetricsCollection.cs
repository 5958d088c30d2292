namespace Polly.Distributed.CircuitBreaker.Tests.Telemetry;

/// <summary>
/// Tests that listen to the breaker's instruments run alone: a listener enables an instrument for every breaker of the
/// process, and the allocation test needs none enabled.
/// </summary>
[CollectionDefinition(nameof(MetricsCollection), DisableParallelization = true)]
public sealed class MetricsCollection
{
}
