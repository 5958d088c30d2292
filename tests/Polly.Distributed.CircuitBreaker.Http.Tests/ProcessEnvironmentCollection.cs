namespace Polly.Distributed.CircuitBreaker.Http.Tests;

/// <summary>Tests that set or depend on process environment variables run alone, never beside each other.</summary>
[CollectionDefinition(nameof(ProcessEnvironmentCollection), DisableParallelization = true)]
public sealed class ProcessEnvironmentCollection
{
}
