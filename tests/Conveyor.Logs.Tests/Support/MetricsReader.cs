using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Conveyor.Diagnostics;

namespace Conveyor.Logs.Tests.Support;

/// <summary>Reads the observable instruments of the one <c>Conveyor</c> meter the way an exporter does at a scrape.</summary>
internal static class MetricsReader
{
    /// <summary>One measurement: the instrument, its tags (in the order given) and the value.</summary>
    public sealed record Point(string Instrument, IReadOnlyList<KeyValuePair<string, object?>> Tags, long Value)
    {
        /// <summary>The value of tag <paramref name="key"/> as a string, or null when absent.</summary>
        public string? Tag(string key) => Tags.FirstOrDefault(t => t.Key == key).Value as string;
    }

    /// <summary>The current measurements of every long-valued instrument of <see cref="ConveyorMeter.Meter"/> named <paramref name="prefix"/>*.</summary>
    public static List<Point> Observe(string prefix)
    {
        var points = new ConcurrentBag<Point>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter == ConveyorMeter.Meter && instrument.Name.StartsWith(prefix, StringComparison.Ordinal))
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => points.Add(new Point(instrument.Name, tags.ToArray(), value)));
        listener.Start();
        listener.RecordObservableInstruments();
        return [.. points];
    }
}
