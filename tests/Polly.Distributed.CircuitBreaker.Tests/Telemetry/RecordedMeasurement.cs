namespace Polly.Distributed.CircuitBreaker.Tests.Telemetry;

/// <summary>One measurement an <see cref="InstrumentRecorder{T}"/> saw: its value and tags.</summary>
internal sealed record RecordedMeasurement<T>(T Value, IReadOnlyDictionary<string, object?> Tags);
