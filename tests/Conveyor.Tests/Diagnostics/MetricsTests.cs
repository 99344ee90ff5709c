using System.Diagnostics.Metrics;
using Conveyor.Diagnostics;

namespace Conveyor.Tests.Diagnostics;

public sealed class MetricsTests
{
    [Fact]
    public void BufferInstruments_ReportCountsAndDropsByReason()
    {
        var name = $"metrics-{Guid.NewGuid():N}";
        var buffer = new BoundedBuffer<int>(new BufferOptions<int> { Capacity = 2, FullMode = FullMode.DropNewest, Name = name });
        buffer.Writer.TryWrite(1);
        buffer.Writer.TryWrite(2);
        buffer.Writer.TryWrite(3);
        buffer.Reader.TryRead(out _);

        var seen = new Dictionary<string, long>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == MetricNames.Meter)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            string? buf = null;
            string? reason = null;
            foreach (var tag in tags)
            {
                if (tag.Key == MetricNames.TagBuffer)
                {
                    buf = tag.Value as string;
                }
                else if (tag.Key == MetricNames.TagReason)
                {
                    reason = tag.Value as string;
                }
            }

            if (buf == name)
            {
                seen[reason is null ? instrument.Name : $"{instrument.Name}/{reason}"] = value;
            }
        });
        listener.Start();
        listener.RecordObservableInstruments();

        Assert.Equal(2, seen[MetricNames.BufferItemsIn]);
        Assert.Equal(1, seen[MetricNames.BufferItemsOut]);
        Assert.Equal(1, seen[MetricNames.BufferDepth]);
        Assert.Equal(2, seen[MetricNames.BufferCapacity]);
        Assert.Equal(1, seen[$"{MetricNames.BufferItemsDropped}/drop_newest"]);
        Assert.Equal(0, seen[$"{MetricNames.BufferItemsDropped}/rejected"]);
        GC.KeepAlive(buffer);
    }
}
