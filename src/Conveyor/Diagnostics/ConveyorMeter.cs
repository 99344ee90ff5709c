using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Conveyor.Diagnostics;

/// <summary>
/// The one owner of the <c>Conveyor</c> meter: every Conveyor instrument, the library's here and the log service's
/// (<c>Conveyor.Logs</c>), is created on <see cref="Meter"/>, under a name from <see cref="MetricNames"/>. A host
/// exports it by name (<c>AddMeter(MetricNames.Meter)</c>); there is no second meter instance to find. Buffer
/// instruments are observable: they read each live buffer's <see cref="BufferStatistics"/> when a listener
/// collects, so the hot path pays nothing for them.
/// </summary>
public static class ConveyorMeter
{
    /// <summary>The meter every Conveyor instrument lives on.</summary>
    public static Meter Meter { get; } = new(MetricNames.Meter, typeof(ConveyorMeter).Assembly.GetName().Version?.ToString());

    internal static readonly Counter<long> StageReceived = Meter.CreateCounter<long>(MetricNames.StageItemsReceived, "{item}", "Items a stage's workers took from its input.");
    internal static readonly Counter<long> StageProcessed = Meter.CreateCounter<long>(MetricNames.StageItemsProcessed, "{item}", "Items a stage's handler finished.");
    internal static readonly Counter<long> StageDeadLettered = Meter.CreateCounter<long>(MetricNames.StageItemsDeadLettered, "{item}", "Items sent to a dead-letter handler.");
    internal static readonly Counter<long> StageRetries = Meter.CreateCounter<long>(MetricNames.StageRetries, "{attempt}", "Handler attempts that were retried.");
    internal static readonly Counter<long> StageResubmitted = Meter.CreateCounter<long>(MetricNames.StageItemsResubmitted, "{item}", "Items handed to a handler again after their batch was halved.");
    internal static readonly Histogram<double> StageHandlerDuration = Meter.CreateHistogram<double>(MetricNames.StageHandlerDuration, "s", "Handler call duration.");
    internal static readonly Histogram<int> StageBatchSize = Meter.CreateHistogram<int>(MetricNames.StageBatchSize, "{item}", "Items per batch handed to a batch handler.");

    static ConveyorMeter()
    {
        Meter.CreateObservableCounter(MetricNames.BufferItemsIn, () => Observe(static s => s.Written), "{item}", "Items accepted into a buffer.");
        Meter.CreateObservableCounter(MetricNames.BufferItemsOut, () => Observe(static s => s.Read), "{item}", "Items handed to a buffer's readers.");
        Meter.CreateObservableCounter(MetricNames.BufferItemsDropped, ObserveDrops, "{item}", "Items dropped, rejected or evicted, by reason.");
        Meter.CreateObservableGauge(MetricNames.BufferDepth, () => Observe(static s => (long)s.Depth), "{item}", "Items queued.");
        Meter.CreateObservableGauge(MetricNames.BufferBytes, () => Observe(static s => s.Bytes), "By", "Bytes queued.");
        Meter.CreateObservableGauge(MetricNames.BufferCapacity, () => Observe(static s => (long)s.Capacity), "{item}", "The count bound.");
        Meter.CreateObservableCounter(MetricNames.BufferBlockedTime, () => ObserveDouble(static s => s.BlockedTime.TotalSeconds), "s", "Time producers spent waiting for room.");
        Meter.CreateObservableGauge(MetricNames.BufferOldestItemAge, () => ObserveDouble(static s => s.OldestItemAge.TotalSeconds), "s", "Age of the oldest queued item.");
    }

    /// <summary>Makes sure the static constructor ran, so the observable instruments exist before the first buffer.</summary>
    internal static void EnsureCreated()
    {
    }

    private static IEnumerable<Measurement<long>> Observe(Func<BufferStatistics, long> select)
    {
        foreach (var (name, stats) in BufferMetrics.Snapshot())
        {
            yield return new Measurement<long>(select(stats), new KeyValuePair<string, object?>(MetricNames.TagBuffer, name));
        }
    }

    private static IEnumerable<Measurement<double>> ObserveDouble(Func<BufferStatistics, double> select)
    {
        foreach (var (name, stats) in BufferMetrics.Snapshot())
        {
            yield return new Measurement<double>(select(stats), new KeyValuePair<string, object?>(MetricNames.TagBuffer, name));
        }
    }

    private static IEnumerable<Measurement<long>> ObserveDrops()
    {
        foreach (var (name, stats) in BufferMetrics.Snapshot())
        {
            foreach (var reason in Enum.GetValues<DropReason>())
            {
                var tags = new TagList
                {
                    { MetricNames.TagBuffer, name },
                    { MetricNames.TagReason, MetricNames.ReasonTag(reason) },
                };
                yield return new Measurement<long>(stats.DroppedBy(reason), tags);
            }
        }
    }
}
