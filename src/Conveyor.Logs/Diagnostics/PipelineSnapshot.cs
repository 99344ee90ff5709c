using Conveyor.Logs.Pipeline;

namespace Conveyor.Logs.Diagnostics;

/// <summary>
/// The live state served at <c>/api/pipeline</c>: one entry per source, buffer and stage in flow order, and
/// per sink the end-to-end conservation check.
/// </summary>
public sealed record PipelineSnapshot
{
    /// <summary>When the snapshot was taken.</summary>
    public DateTimeOffset Time { get; init; }

    /// <summary>Sources, buffers and stages in flow order.</summary>
    public IReadOnlyList<StageState> Stages { get; init; } = [];

    /// <summary>Per sink: does everything admitted add up to stored + dead-lettered + dropped + in the pipeline?</summary>
    public IReadOnlyList<SinkConservation> Sinks { get; init; } = [];

    /// <summary>True when every stage and every sink balances.</summary>
    public bool Balanced => Stages.All(static s => s.Balanced) && Sinks.All(static s => s.Balanced);

    internal static PipelineSnapshot Build(LogTopology t)
    {
        // Counters of different stages are read one after the other while items move, so an item can be seen twice
        // or not at all for an instant; a check that fails is retried on fresh counters before it is reported.
        PipelineSnapshot snapshot = Take(t);
        for (var attempt = 0; attempt < 3 && !snapshot.Balanced; attempt++)
        {
            snapshot = Take(t);
        }

        return snapshot;
    }

    private static PipelineSnapshot Take(LogTopology t)
    {
        var rates = t.Rates;
        var stages = new List<StageState>();
        foreach (var s in t.Sources)
        {
            stages.Add(new StageState
            {
                Name = "source:" + s.Name,
                Kind = "source",
                Type = s.Kind,
                RateIn = rates.Rate("source:" + s.Name + ".in"),
                RateOut = rates.Rate("source:" + s.Name + ".out"),
                Received = s.Received,
                Sent = s.Admitted,
                Dropped = new Dictionary<string, long> { ["refused"] = s.Refused, ["dropped"] = s.Dropped },
                Errors = s.ClientFaults,
                Buffered = s.Pending,
                Formats = s.ParsedByFormat,
                Link = s.Link?.GetLinkStatus(),
            });
        }

        stages.Add(BufferState(t.Main, "main", rates));
        var main = t.Main.GetStatistics();
        if (t.ParseStage is { } parse)
        {
            var ps = parse.GetStatistics();
            stages.Add(new StageState
            {
                Name = "parse",
                Kind = "stage",
                Type = "parse",
                Workers = ps.Workers,
                RateIn = rates.Rate("main.read"),
                RateOut = rates.Rate("main.read"),
                Received = ps.Received,
                Sent = t.HandedOnEvents,
                DeadLettered = t.HandedOnDeadLetters,
                Buffered = ps.InFlight,
                Left = ps.Left,
            });
        }

        var sinks = new List<SinkConservation>();
        foreach (var lane in t.Lanes)
        {
            stages.Add(BufferState(lane.Queue, lane.Queue.Name, rates));
            var q = lane.Queue.GetStatistics();
            var ss = lane.Stage?.GetStatistics() ?? default;
            var stored = lane.StoredEvents + lane.StoredDeadLetters;
            var failure = lane.CurrentFailure;
            stages.Add(new StageState
            {
                Name = "write:" + lane.Name,
                Kind = "sink",
                Type = lane.Mode.ToString().ToLowerInvariant(),
                Healthy = lane.IsUp,
                Failures = failure?.Attempts ?? 0,
                FailingSeconds = failure is { } f ? Math.Max(0, (t.Now - f.Since).TotalSeconds) : null,
                Error = failure?.LastError,
                RateIn = rates.Rate(lane.Queue.Name + ".read"),
                RateOut = rates.Rate(lane.Queue.Name + ".stored"),
                Received = ss.Received,
                Sent = stored,
                DeadLettered = lane.Rejected,
                Dropped = new Dictionary<string, long> { ["failed"] = lane.Failed },
                Errors = lane.Errors,
                Buffered = ss.InFlight,
                Left = ss.Left,
                Link = lane.Link?.GetLinkStatus(),
            });
            // What a stage holds between two buffers is what it took minus what it has put into the next one:
            // a stage's batch stays in flight while its items are written on one by one, so counting its
            // in-flight batch would count the items already written twice.
            var ps = t.ParseStage?.GetStatistics() ?? default;
            var offeredToQueue = q.Written + (q.Dropped - q.DroppedOldest) + lane.NotOfferedCount;
            var parseHeld = Math.Max(0, ps.Received - ps.Left - offeredToQueue);

            // A stage's batch reader takes items out of its buffer one by one and hands the batch over when it is full or
            // its linger ends (the store's: 500 ms): taken, the items are in neither the buffer's depth nor the stage's count.
            var parseGathering = Math.Max(0, main.Read - ps.Received);
            var laneGathering = Math.Max(0, q.Read - ss.Received);
            var inPipeline = main.Depth + parseGathering + parseHeld + q.Depth + laneGathering + ss.InFlight;
            var left = ps.Left + lane.NotOfferedCount + ss.Left;
            sinks.Add(new SinkConservation
            {
                Sink = lane.Name,
                Admitted = main.Written,
                Stored = lane.StoredEvents,
                DeadLettered = lane.StoredDeadLetters + lane.Rejected,
                Dropped = main.DroppedOldest + q.Dropped + lane.Failed,
                InPipeline = inPipeline,
                Left = left,
            });
        }

        return new PipelineSnapshot { Time = t.Time.GetUtcNow(), Stages = stages, Sinks = sinks };
    }

    private static StageState BufferState<T>(BoundedBuffer<T> b, string name, RateWindow rates) => BufferState(b.GetStatistics(), name, b.FullMode.ToString(), rates);

    private static StageState BufferState(BufferStatistics s, string name, string policy, RateWindow rates) => new()
    {
        Name = name,
        Kind = "buffer",
        Type = policy,
        Depth = s.Depth,
        Capacity = s.Capacity,
        Bytes = s.Bytes,
        MaxBytes = s.MaxBytes,
        Fill = LogTopology.Fill(s),
        RateIn = rates.Rate(name + ".written"),
        RateOut = rates.Rate(name + ".read"),
        Received = s.Written + s.DroppedNewest + s.Rejected + s.BlockTimedOut + s.TooLarge,
        Sent = s.Read,
        Dropped = new Dictionary<string, long>
        {
            ["drop_newest"] = s.DroppedNewest,
            ["drop_oldest"] = s.DroppedOldest,
            ["rejected"] = s.Rejected,
            ["block_timeout"] = s.BlockTimedOut,
            ["too_large"] = s.TooLarge,
        },
        Buffered = s.Depth,
        BlockedSeconds = s.BlockedTime.TotalSeconds,
        OldestItemAgeSeconds = s.OldestItemAge.TotalSeconds,
    };
}

/// <summary>One source, buffer or stage in <see cref="PipelineSnapshot"/>.</summary>
public sealed record StageState
{
    /// <summary>Unique name, e.g. <c>source:tcp-5170</c>, <c>main</c>, <c>parse</c>, <c>sink:sqlite</c>.</summary>
    public string Name { get; init; } = string.Empty;

    /// <summary><c>source</c>, <c>buffer</c>, <c>stage</c> or <c>sink</c>.</summary>
    public string Kind { get; init; } = string.Empty;

    /// <summary>The source type, the buffer's full policy, or the sink's mode.</summary>
    public string Type { get; init; } = string.Empty;

    /// <summary>
    /// Sources: events parsed from this source's lines per format that read them (under <c>auto</c> e.g.
    /// <c>{"combined": 980, "plain": 20}</c>; <c>plain</c> is free text); null for other stages.
    /// </summary>
    public IReadOnlyDictionary<string, long>? Formats { get; init; }

    /// <summary>Buffers: items queued.</summary>
    public long? Depth { get; init; }

    /// <summary>Buffers: the count bound.</summary>
    public long? Capacity { get; init; }

    /// <summary>Buffers: bytes queued.</summary>
    public long? Bytes { get; init; }

    /// <summary>Buffers: the byte bound.</summary>
    public long? MaxBytes { get; init; }

    /// <summary>Buffers: the larger of count and byte fill, 0 to 1.</summary>
    public double? Fill { get; init; }

    /// <summary>Stages: workers.</summary>
    public int? Workers { get; init; }

    /// <summary>Sinks: the last write or health check succeeded, and no write is failing now.</summary>
    public bool? Healthy { get; init; }

    /// <summary>Sinks: write attempts that failed since the last success (0 while writes succeed).</summary>
    public long? Failures { get; init; }

    /// <summary>Sinks: how long writes have been failing, seconds; null while they succeed.</summary>
    public double? FailingSeconds { get; init; }

    /// <summary>Sinks: the latest write error while writes are failing; null while they succeed.</summary>
    public string? Error { get; init; }

    /// <summary>Sources and sinks with a broker connection: its state and unconfirmed window; null for the others.</summary>
    public Diagnostics.LinkStatus? Link { get; init; }

    /// <summary>Items per second in, over the last ten seconds.</summary>
    public double RateIn { get; init; }

    /// <summary>Items per second out, over the last ten seconds.</summary>
    public double RateOut { get; init; }

    /// <summary>Items offered to this stage.</summary>
    public long Received { get; init; }

    /// <summary>Items passed on (or stored, for a sink).</summary>
    public long Sent { get; init; }

    /// <summary>Items dropped, by reason.</summary>
    public IReadOnlyDictionary<string, long> Dropped { get; init; } = new Dictionary<string, long>();

    /// <summary>Items turned into dead letters here.</summary>
    public long DeadLettered { get; init; }

    /// <summary>
    /// Operations that failed here, counted since start: a source's client faults, a sink's failed write attempts
    /// (retried or not); 0 for buffers and the parse stage, whose refusals are drops or dead letters.
    /// </summary>
    public long Errors { get; init; }

    /// <summary>Items held here now (queued or in a handler).</summary>
    public long Buffered { get; init; }

    /// <summary>Items left at a drain deadline.</summary>
    public long Left { get; init; }

    /// <summary>Buffers: total seconds writers waited for room.</summary>
    public double? BlockedSeconds { get; init; }

    /// <summary>Buffers: age of the oldest item, seconds.</summary>
    public double? OldestItemAgeSeconds { get; init; }

    /// <summary>The conservation check: received = sent + dropped + dead-lettered + buffered + left.</summary>
    public bool Balanced => Received == Sent + Dropped.Values.Sum() + DeadLettered + Buffered + Left;
}

/// <summary>End-to-end accounting of one sink.</summary>
public sealed record SinkConservation
{
    /// <summary>The sink.</summary>
    public string Sink { get; init; } = string.Empty;

    /// <summary>Lines admitted to the main buffer.</summary>
    public long Admitted { get; init; }

    /// <summary>Events stored.</summary>
    public long Stored { get; init; }

    /// <summary>Dead letters stored (from sources, parsers and the sink's own refusals).</summary>
    public long DeadLettered { get; init; }

    /// <summary>Records dropped on the way (main-buffer eviction, the sink queue's policy, failed writes).</summary>
    public long Dropped { get; init; }

    /// <summary>Records still in a buffer or a handler.</summary>
    public long InPipeline { get; init; }

    /// <summary>Records left at a drain deadline.</summary>
    public long Left { get; init; }

    /// <summary>admitted = stored + dead-lettered + dropped + in pipeline + left.</summary>
    public bool Balanced => Admitted == Stored + DeadLettered + Dropped + InPipeline + Left;
}
