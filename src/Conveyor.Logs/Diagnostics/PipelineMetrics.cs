using System.Diagnostics;
using System.Diagnostics.Metrics;
using Conveyor.Diagnostics;
using Conveyor.Logs.Model;
using Conveyor.Logs.Pipeline;

namespace Conveyor.Logs.Diagnostics;

/// <summary>
/// The log service's instruments, on the library's one meter (<see cref="ConveyorMeter.Meter"/>, names from
/// <see cref="MetricNames"/>): observable, read over the live topologies when a listener collects (a Prometheus
/// scrape), so the hot path pays nothing. Topologies are held weakly and leave when disposed.
/// </summary>
/// <remarks>
/// The <c>conveyor.component.*</c> family is read from <see cref="PipelineSnapshot"/>, the same numbers as
/// <c>/api/pipeline</c>: one entry per source, buffer, stage and sink, tagged alike, so what holds there
/// (received = sent + dropped + dead-lettered + buffered + left) holds for the metrics too.
/// </remarks>
internal static class PipelineMetrics
{
    private static Meter Meter => ConveyorMeter.Meter;
    private static readonly Lock Sync = new();
    private static readonly List<WeakReference<LogTopology>> Topologies = [];

    static PipelineMetrics()
    {
        Meter.CreateObservableCounter(MetricNames.SourceReceived, () => Sources(static s => s.Received), "{record}", "Records a source took in.");
        Meter.CreateObservableCounter(MetricNames.SourceAdmitted, () => Sources(static s => s.Admitted), "{record}", "Records written into the main buffer.");
        Meter.CreateObservableCounter(MetricNames.SourceRefused, () => Sources(static s => s.Refused), "{record}", "Records refused to a sender who was told.");
        Meter.CreateObservableCounter(MetricNames.SourceDropped, () => Sources(static s => s.Dropped), "{record}", "Records lost with no one told.");
        Meter.CreateObservableCounter(MetricNames.SourceClientFaults, () => Sources(static s => s.ClientFaults), "{fault}", "Faults clients caused.");
        Meter.CreateObservableCounter(MetricNames.SourceConnectionsEvicted, () => Sources(static s => s.ConnectionsEvicted), "{connection}", "Idle connections closed at the connection limit.");
        Meter.CreateObservableCounter(MetricNames.SourceConnectionsRefused, () => Sources(static s => s.ConnectionsRefused), "{connection}", "Connections refused at the connection limit.");
        Meter.CreateObservableCounter(MetricNames.SourceBodiesRefused, () => Sources(static s => s.BodiesRefused), "{request}", "Request bodies refused over the in-flight budget.");
        Meter.CreateObservableCounter(MetricNames.ParsedEvents, () => Live().Select(static t => new Measurement<long>(t.ParsedEvents)), "{record}", "Records parsed into events.");
        Meter.CreateObservableCounter(MetricNames.ParseDeadLetters, () => Live().Select(static t => new Measurement<long>(t.ParseDeadLetters)), "{record}", "Records that became dead letters.");
        Meter.CreateObservableCounter(MetricNames.PipelineSinkStored, StoredBySink, "{record}", "Records each sink stored.");

        // The same counts as /api/pipeline's and the shutdown report's (dropped.failed is "failed"): one number, one source.
        Meter.CreateObservableCounter(MetricNames.SinkWritten, () => Lanes(static l => l.StoredEvents), "{event}", "Events the store accepted.");
        Meter.CreateObservableCounter(MetricNames.SinkDeadLettered, () => Lanes(static l => l.StoredDeadLetters + l.Rejected), "{record}", "Dead letters the sink stored.");
        Meter.CreateObservableCounter(MetricNames.SinkErrors, () => Lanes(static l => l.Errors), "{attempt}", "Write attempts that failed transiently.");
        Meter.CreateObservableCounter(MetricNames.SinkFailed, () => Lanes(static l => l.Failed), "{record}", "Records lost for good: neither stored nor kept as dead letters.");
        Meter.CreateObservableCounter(MetricNames.ComponentReceived, () => Components(static c => c.Received), "{item}", "Items a source, buffer, stage or sink took in.");
        Meter.CreateObservableCounter(MetricNames.ComponentSent, () => Components(static c => c.Sent), "{item}", "Items a source, buffer, stage or sink passed on (stored, for a sink).");
        Meter.CreateObservableCounter(MetricNames.ComponentDropped, ComponentDrops, "{item}", "Items a source, buffer, stage or sink dropped, by reason.");
        Meter.CreateObservableCounter(MetricNames.ComponentDeadLettered, () => Components(static c => c.DeadLettered), "{item}", "Items a stage or sink kept as dead letters.");
        Meter.CreateObservableCounter(MetricNames.ComponentErrors, () => Components(static c => c.Errors), "{operation}", "Operations that failed: client faults, failed write attempts.");
        Meter.CreateObservableGauge(MetricNames.PipelineBalanced, Balanced, "1", "1 when the conservation check holds.");
    }

    public static void Register(LogTopology topology)
    {
        lock (Sync)
        {
            Topologies.RemoveAll(static w => !w.TryGetTarget(out _));
            Topologies.Add(new WeakReference<LogTopology>(topology));
        }
    }

    /// <summary>Takes a disposed topology out of the metrics at once, instead of when it is collected.</summary>
    public static void Unregister(LogTopology topology)
    {
        lock (Sync)
        {
            Topologies.RemoveAll(w => !w.TryGetTarget(out var t) || ReferenceEquals(t, topology));
        }
    }

    private static List<LogTopology> Live()
    {
        var live = new List<LogTopology>();
        lock (Sync)
        {
            foreach (var w in Topologies)
            {
                if (w.TryGetTarget(out var t))
                {
                    live.Add(t);
                }
            }
        }

        return live;
    }

    private static IEnumerable<Measurement<long>> Sources(Func<SourceInfo, long> select) =>
        Live().SelectMany(static t => t.Sources).Select(s => new Measurement<long>(select(s), new KeyValuePair<string, object?>(MetricNames.TagSource, s.Name)));

    private static IEnumerable<Measurement<long>> StoredBySink() => Lanes(static l => l.StoredEvents + l.StoredDeadLetters);

    private static IEnumerable<Measurement<long>> Lanes(Func<SinkLane, long> select) =>
        Live().SelectMany(static t => t.Lanes).Select(l => new Measurement<long>(select(l), new KeyValuePair<string, object?>(MetricNames.TagSink, l.Name)));

    private static IEnumerable<Measurement<long>> Components(Func<StageState, long> select) =>
        Live().SelectMany(static t => t.GetSnapshot().Stages).Select(c => new Measurement<long>(select(c), ComponentTags(c)));

    private static IEnumerable<Measurement<long>> ComponentDrops()
    {
        foreach (var c in Live().SelectMany(static t => t.GetSnapshot().Stages))
        {
            // A component that cannot drop (the parse stage) still has the series, as reason "none" at 0, so every
            // component answers the same four questions.
            IEnumerable<KeyValuePair<string, long>> drops = c.Dropped.Count > 0 ? c.Dropped : [new("none", 0)];
            foreach (var (reason, count) in drops)
            {
                var tags = ComponentTags(c);
                tags.Add(MetricNames.TagReason, reason);
                yield return new Measurement<long>(count, tags);
            }
        }
    }

    private static TagList ComponentTags(StageState c) => new() { { MetricNames.TagComponent, c.Kind }, { MetricNames.TagName, c.Name } };

    private static IEnumerable<Measurement<int>> Balanced()
    {
        foreach (var t in Live())
        {
            var snapshot = t.GetSnapshot();
            foreach (var s in snapshot.Stages)
            {
                yield return new Measurement<int>(s.Balanced ? 1 : 0, new KeyValuePair<string, object?>(MetricNames.TagCheck, s.Name));
            }

            foreach (var s in snapshot.Sinks)
            {
                yield return new Measurement<int>(s.Balanced ? 1 : 0, new KeyValuePair<string, object?>(MetricNames.TagCheck, "end-to-end:" + s.Sink));
            }
        }
    }
}
