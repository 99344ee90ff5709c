using System.Diagnostics.Metrics;
using Conveyor.Diagnostics;
using Conveyor.Logs.Model;
using Conveyor.Logs.Pipeline;
using Conveyor.Logs.Sinks;

namespace Conveyor.Logs.Diagnostics;

/// <summary>Names of the pipeline's own instruments on the <c>Conveyor</c> meter (the buffers and stages report theirs in the core library).</summary>
public static class PipelineMetricNames
{
    /// <summary>Records a source took in (counter; tag <c>source</c>).</summary>
    public const string SourceReceived = "conveyor.source.records.received";

    /// <summary>Records a source wrote into the main buffer (counter; tag <c>source</c>).</summary>
    public const string SourceAdmitted = "conveyor.source.records.admitted";

    /// <summary>Records refused to a sender who was told, e.g. HTTP 429 (counter; tag <c>source</c>).</summary>
    public const string SourceRefused = "conveyor.source.records.refused";

    /// <summary>Records a source lost with no one told, e.g. UDP with a full buffer (counter; tag <c>source</c>).</summary>
    public const string SourceDropped = "conveyor.source.records.dropped";

    /// <summary>Faults clients caused: malformed requests or frames, resets, bodies sent too slowly (counter; tag <c>source</c>).</summary>
    public const string SourceClientFaults = "conveyor.source.client_faults";

    /// <summary>TCP: idle connections closed to admit a new one at the connection limit (counter; tag <c>source</c>).</summary>
    public const string SourceConnectionsEvicted = "conveyor.source.connections.evicted";

    /// <summary>TCP: connections refused at the limit with none idle (counter; tag <c>source</c>).</summary>
    public const string SourceConnectionsRefused = "conveyor.source.connections.refused";

    /// <summary>HTTP: request bodies refused unread over the in-flight budget (counter; tag <c>source</c>).</summary>
    public const string SourceBodiesRefused = "conveyor.source.bodies.refused";

    /// <summary>Records the parse workers turned into events (counter).</summary>
    public const string ParsedEvents = "conveyor.parse.events";

    /// <summary>Records that became dead letters at a source or a parser (counter).</summary>
    public const string ParseDeadLetters = "conveyor.parse.dead_letters";

    /// <summary>Records each sink stored: events and dead letters (counter; tag <c>sink</c>).</summary>
    public const string SinkStored = "conveyor.pipeline.sink.stored";

    /// <summary>
    /// The conservation check (gauge, 1 = balanced): per stage, received = sent + dropped + dead-lettered + buffered;
    /// per sink, admitted = stored + dead-lettered + dropped + in the pipeline. Tag <c>check</c> names the stage or sink.
    /// </summary>
    public const string Balanced = "conveyor.pipeline.balanced";

    /// <summary>Tag naming a source.</summary>
    public const string TagSource = "source";

    /// <summary>Tag naming a sink.</summary>
    public const string TagSink = "sink";

    /// <summary>Tag naming what a conservation check covers.</summary>
    public const string TagCheck = "check";
}

/// <summary>
/// Observable instruments over the live topologies: read when a listener collects (a Prometheus scrape), so the
/// hot path pays nothing. Topologies are held weakly.
/// </summary>
internal static class PipelineMetrics
{
    private static readonly Meter Meter = new(MetricNames.Meter);
    private static readonly Lock Sync = new();
    private static readonly List<WeakReference<LogTopology>> Topologies = [];

    static PipelineMetrics()
    {
        Meter.CreateObservableCounter(PipelineMetricNames.SourceReceived, () => Sources(static s => s.Received), "{record}", "Records a source took in.");
        Meter.CreateObservableCounter(PipelineMetricNames.SourceAdmitted, () => Sources(static s => s.Admitted), "{record}", "Records written into the main buffer.");
        Meter.CreateObservableCounter(PipelineMetricNames.SourceRefused, () => Sources(static s => s.Refused), "{record}", "Records refused to a sender who was told.");
        Meter.CreateObservableCounter(PipelineMetricNames.SourceDropped, () => Sources(static s => s.Dropped), "{record}", "Records lost with no one told.");
        Meter.CreateObservableCounter(PipelineMetricNames.SourceClientFaults, () => Sources(static s => s.ClientFaults), "{fault}", "Faults clients caused.");
        Meter.CreateObservableCounter(PipelineMetricNames.SourceConnectionsEvicted, () => Sources(static s => s.ConnectionsEvicted), "{connection}", "Idle connections closed at the connection limit.");
        Meter.CreateObservableCounter(PipelineMetricNames.SourceConnectionsRefused, () => Sources(static s => s.ConnectionsRefused), "{connection}", "Connections refused at the connection limit.");
        Meter.CreateObservableCounter(PipelineMetricNames.SourceBodiesRefused, () => Sources(static s => s.BodiesRefused), "{request}", "Request bodies refused over the in-flight budget.");
        Meter.CreateObservableCounter(PipelineMetricNames.ParsedEvents, () => Live().Select(static t => new Measurement<long>(t.ParsedEvents)), "{record}", "Records parsed into events.");
        Meter.CreateObservableCounter(PipelineMetricNames.ParseDeadLetters, () => Live().Select(static t => new Measurement<long>(t.ParseDeadLetters)), "{record}", "Records that became dead letters.");
        Meter.CreateObservableCounter(PipelineMetricNames.SinkStored, StoredBySink, "{record}", "Records each sink stored.");

        // The same count as /api/pipeline's dropped.failed and the shutdown report's "failed": one number, one source.
        Meter.CreateObservableCounter(SinkInstrumentNames.Failed, FailedBySink, "{record}", "Records lost for good: neither stored nor kept as dead letters.");
        Meter.CreateObservableGauge(PipelineMetricNames.Balanced, Balanced, "1", "1 when the conservation check holds.");
    }

    public static void Register(LogTopology topology)
    {
        lock (Sync)
        {
            Topologies.RemoveAll(static w => !w.TryGetTarget(out _));
            Topologies.Add(new WeakReference<LogTopology>(topology));
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
        Live().SelectMany(static t => t.Sources).Select(s => new Measurement<long>(select(s), new KeyValuePair<string, object?>(PipelineMetricNames.TagSource, s.Name)));

    private static IEnumerable<Measurement<long>> StoredBySink() =>
        Live().SelectMany(static t => t.Lanes).Select(static l => new Measurement<long>(l.StoredEvents + l.StoredDeadLetters, new KeyValuePair<string, object?>(PipelineMetricNames.TagSink, l.Name)));

    private static IEnumerable<Measurement<long>> FailedBySink() =>
        Live().SelectMany(static t => t.Lanes).Select(static l => new Measurement<long>(l.Failed, new KeyValuePair<string, object?>(SinkInstrumentNames.SinkTag, l.Name)));

    private static IEnumerable<Measurement<int>> Balanced()
    {
        foreach (var t in Live())
        {
            var snapshot = t.GetSnapshot();
            foreach (var s in snapshot.Stages)
            {
                yield return new Measurement<int>(s.Balanced ? 1 : 0, new KeyValuePair<string, object?>(PipelineMetricNames.TagCheck, s.Name));
            }

            foreach (var s in snapshot.Sinks)
            {
                yield return new Measurement<int>(s.Balanced ? 1 : 0, new KeyValuePair<string, object?>(PipelineMetricNames.TagCheck, "end-to-end:" + s.Sink));
            }
        }
    }
}
