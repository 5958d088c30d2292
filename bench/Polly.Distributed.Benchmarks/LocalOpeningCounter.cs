using Microsoft.Extensions.Logging.Abstractions;
using Polly.Telemetry;

namespace Polly.Distributed.Benchmarks;

/// <summary>Counts the openings of environments' own circuits, from the breaker's telemetry.</summary>
internal sealed class LocalOpeningCounter : TelemetryListener
{
    private long _count;

    public long Count => Interlocked.Read(ref _count);

    /// <summary>Gets telemetry options that report to this counter and log nothing, for the pipelines of a simulated fleet.</summary>
    public TelemetryOptions Telemetry => new() { LoggerFactory = NullLoggerFactory.Instance, TelemetryListeners = { this } };

    public override void Write<TResult, TArgs>(in TelemetryEventArguments<TResult, TArgs> args)
    {
        if (args.Event.EventName == "OnLocalCircuitOpened")
        {
            Interlocked.Increment(ref _count);
        }
    }
}
