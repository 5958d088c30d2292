using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace Polly.Distributed.CircuitBreaker.Tests.Telemetry;

/// <summary>
/// Records the measurements of one of the breaker's instruments with a <see cref="MeterListener"/> of its own, and disables
/// the instrument again when disposed: on .NET 8 disposing a listener leaves <see cref="Instrument.Enabled"/> set, and the
/// tests that need no listener enabled depend on it being cleared.
/// </summary>
internal sealed class InstrumentRecorder<T> : IDisposable
    where T : struct
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentQueue<RecordedMeasurement<T>> _measurements = new();
    private readonly ConcurrentQueue<Instrument> _enabled = new();

    public InstrumentRecorder(string instrumentName)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == "Polly.Distributed.CircuitBreaker" && instrument.Name == instrumentName)
            {
                listener.EnableMeasurementEvents(instrument);
                _enabled.Enqueue(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<T>((_, value, tags, _) =>
        {
            var copied = new Dictionary<string, object?>(StringComparer.Ordinal);
            foreach (var tag in tags)
            {
                copied[tag.Key] = tag.Value;
            }

            _measurements.Enqueue(new RecordedMeasurement<T>(value, copied));
        });
        _listener.Start();
    }

    public IReadOnlyList<RecordedMeasurement<T>> Measurements => [.. _measurements];

    /// <summary>Forgets what was recorded, then asks the observable instruments for their values now.</summary>
    public void ObserveNow()
    {
        _measurements.Clear();
        _listener.RecordObservableInstruments();
    }

    public void Dispose()
    {
        foreach (var instrument in _enabled)
        {
            _listener.DisableMeasurementEvents(instrument);
        }

        _listener.Dispose();
    }
}
