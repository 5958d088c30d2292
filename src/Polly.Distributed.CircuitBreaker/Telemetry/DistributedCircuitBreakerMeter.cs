using System.Diagnostics.Metrics;

namespace Polly.Distributed.CircuitBreaker.Telemetry;

/// <summary>
/// The breaker's one meter, beside Polly.Extensions' <c>Polly</c> meter, and the names of its instruments and tags. The
/// instruments follow Polly's <c>resilience.polly.*</c> conventions: lower-case dotted names, durations in milliseconds,
/// and Polly's own tag names (<c>pipeline.name</c>, <c>pipeline.instance</c>, <c>strategy.name</c>) where they apply.
/// </summary>
internal static class DistributedCircuitBreakerMeter
{
    public const string Name = "Polly.Distributed.CircuitBreaker";

    public const string StateInstrument = "resilience.distributed_circuit_breaker.state";
    public const string StoreDurationInstrument = "resilience.distributed_circuit_breaker.store.duration";
    public const string StoreFailuresInstrument = "resilience.distributed_circuit_breaker.store.failures";

    public const string CircuitIdTag = "circuit.id";
    public const string PipelineNameTag = "pipeline.name";
    public const string PipelineInstanceTag = "pipeline.instance";
    public const string StrategyNameTag = "strategy.name";
    public const string StoreTypeTag = "store.type";
    public const string StoreOperationTag = "store.operation";
    public const string ErrorTypeTag = "error.type";

    public static Meter Meter { get; } = new(Name, typeof(DistributedCircuitBreakerMeter).Assembly.GetName().Version?.ToString());
}
