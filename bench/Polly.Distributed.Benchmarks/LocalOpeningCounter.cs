using Polly.Telemetry;

namespace Polly.Distributed.Benchmarks;

/// <summary>Counts the openings of environments' own circuits, from the breaker's telemetry.</summary>
internal sealed class LocalOpeningCounter : TelemetryListener
{
    private long _count;

    public long Count => Interlocked.Read(ref _count);

    public override void Write<TResult, TArgs>(in TelemetryEventArguments<TResult, TArgs> args)
    {
        if (args.Event.EventName == "OnLocalCircuitOpened")
        {
            Interlocked.Increment(ref _count);
        }
    }
}
