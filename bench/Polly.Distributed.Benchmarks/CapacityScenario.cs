using Polly.Distributed.CircuitBreaker;

namespace Polly.Distributed.Benchmarks;

/// <summary>One row of the capacity simulation.</summary>
/// <param name="Store">"dynamodb" or "redis"; ignored for Polly's breaker.</param>
/// <param name="Environments">The fleet size.</param>
/// <param name="CallsPerSecond">Calls per second of each environment.</param>
/// <param name="Consistency">The distributed breaker's mode; <see langword="null"/> for Polly's own breaker in each environment.</param>
/// <param name="CacheTtl">The distributed breaker's cache.</param>
/// <param name="Cold">
/// Whether the fleet scales out from nothing as Lambda does (1,000 new environments every 10 seconds), the dependency
/// dying one second before the last environments start; otherwise the whole fleet starts at once and the dependency dies
/// after one second.
/// </param>
internal sealed record CapacityScenario(string Store, int Environments, int CallsPerSecond, CircuitConsistency? Consistency, TimeSpan CacheTtl, bool Cold);
