using Conveyor.Logs.Configuration;
using Conveyor.Logs.Diagnostics;
using Conveyor.Logs.Enrichment;
using Conveyor.Logs.Model;
using Conveyor.Logs.Parsing;
using Microsoft.Extensions.Logging;

namespace Conveyor.Logs.Pipeline;

/// <summary>
/// The running data flow of <c>conveyor run</c>: sources write raw lines into the main buffer; parse workers turn
/// each batch into events or dead letters and write it, as a batch, into every sink's own queue; one stage per sink
/// writes batches to it. A line is handed over twice between its source and its sink: into the main buffer, and from
/// the parse worker into each sink queue.
/// </summary>
/// <remarks>
/// <para>Every edge is bounded by count and bytes. The main buffer blocks by default, so a full pipeline slows
/// TCP senders and makes HTTP answer 429. A sink queue in <see cref="SinkMode.Pace"/> blocks the parse workers too;
/// in <see cref="SinkMode.Isolate"/> its own full policy drops (counted) so other sinks carry on.</para>
/// <para>Acknowledgements: a line's reference (<see cref="RawLine.Ack"/>) passes to its record; the parse worker adds
/// one per extra sink; each sink lane completes its reference once — <c>Delivered</c> after the sink committed it,
/// <c>DeadLettered</c> when it was stored as a dead letter, <c>Dropped</c> when a queue dropped it, <c>Failed</c> when
/// the sink gave up or the drain deadline left it. The main buffer completes the lines it drops as <c>Dropped</c>.</para>
/// <para>Drain order (<see cref="DrainAsync"/>): the caller has stopped the sources; then the main buffer is
/// completed and each stage drains into the next, so completion flows down; sinks are disposed (flushed) last.</para>
/// <para>What holds for each sink: lines admitted to the main buffer = events stored + dead letters stored +
/// drops at its queue + failed writes + items left at a drain deadline + items still in flight.</para>
/// </remarks>
public sealed partial class LogTopology : IAsyncDisposable
{
    private readonly PipelineOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly EnricherChain _enrichers;
    private readonly List<SinkLane> _lanes = [];
    private readonly List<SourceInfo> _sources = [];
    private readonly Lock _sourcesLock = new();
    private readonly RateWindow _rates;
    private readonly CancellationTokenSource _stop = new();
    private readonly DiskIntake? _disk;
    private ConsumerStage<RawLine>? _parse;
    private ITimer? _sampler;
    private readonly IdleMemoryTrim _trim = new();
    private long _parsedEvents;
    private long _parseDeadLetters;

    // What the parse stage has handed on (into every sink queue, or counted by a lane as not offered): the stage's
    // "sent". Counted at the end of the hand-on, not at the parse, so a parsed batch waiting for its turn or for room in
    // a full sink queue is still in the stage (in flight) and is never counted twice.
    private long _handedOnEvents;
    private long _handedOnDeadLetters;
    private int _drained;
    private int _disposed;

    /// <summary>Builds the buffers and stages; <see cref="Start"/> starts them.</summary>
    public LogTopology(PipelineOptions options, IReadOnlyList<TopologySink> sinks, ILogger logger, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(sinks);
        ArgumentNullException.ThrowIfNull(logger);
        _options = options;
        _logger = logger;
        _time = timeProvider ?? TimeProvider.System;
        _rates = new RateWindow(_time);
        _enrichers = EnricherChain.Create(options.Parse.Enrichers);
        var main = options.Buffer;
        Main = new BoundedBuffer<RawLine>(new BufferOptions<RawLine>
        {
            Name = "main",
            Capacity = main.Capacity ?? PipelineOptions.DefaultMainCapacity,
            MaxBytes = main.MaxBytes ?? PipelineOptions.DefaultMainMaxBytes,
            SizeOf = static l => l.Size,
            FullMode = main.FullMode,
            BlockTimeout = main.BlockTimeout,
            TimeProvider = _time,
            OnDropped = static (line, _) => line.Ack?.Complete(DeliveryOutcome.Dropped),
        });

        // In durable mode sources write to the disk buffer, and the main buffer above is its read-ahead window.
        _disk = main.Type == BufferType.Disk ? DiskIntake.Open(main, Main.Writer, FindSource, logger, _time) : null;
        Intake = _disk ?? LineIntake.FromBufferWriter(Main.Writer);
        if (sinks.Count > PipelineRecord.MaxLanes)
        {
            throw new ArgumentException($"A pipeline has at most {PipelineRecord.MaxLanes} sinks (was given {sinks.Count}).", nameof(sinks));
        }

        foreach (var sink in sinks)
        {
            var lane = _lanes.Count;
            var mode = sink.Options.Mode == SinkMode.Auto ? (sinks.Count == 1 ? SinkMode.Pace : SinkMode.Isolate) : sink.Options.Mode;
            _lanes.Add(SinkLane.Create(sink, mode, lane, _time));
        }
    }

    /// <summary>The clock every part of the flow uses (receive times, linger, retries, deadlines).</summary>
    public TimeProvider Time => _time;

    /// <summary>The main buffer; sources write to its <see cref="BoundedBuffer{T}.Writer"/>.</summary>
    public BoundedBuffer<RawLine> Main { get; }

    /// <summary>Where sources hand their lines: the main buffer, or the disk buffer in durable mode.</summary>
    public LineIntake Intake { get; }

    /// <summary>The disk buffer in durable mode (<c>buffer:type: disk</c>), else null.</summary>
    public DiskIntake? Disk => _disk;

    /// <summary>Call once every source is registered: in durable mode, lines on disk start flowing to the parse workers.</summary>
    public void SourcesReady() => _disk?.StartReplay();

    private SourceInfo? FindSource(string name)
    {
        lock (_sourcesLock)
        {
            return _sources.Find(s => s.Name == name);
        }
    }

    /// <summary>The sources that registered, in order.</summary>
    public IReadOnlyList<SourceInfo> Sources
    {
        get
        {
            lock (_sourcesLock)
            {
                return [.. _sources];
            }
        }
    }

    /// <summary>True once <see cref="DrainAsync"/> began: sources must not admit more.</summary>
    public bool IsStopping => Volatile.Read(ref _drained) != 0;

    /// <summary>Registers a source so its counters appear in the pipeline state and the shutdown report.</summary>
    public void AddSource(SourceInfo source)
    {
        ArgumentNullException.ThrowIfNull(source);
        lock (_sourcesLock)
        {
            _sources.Add(source);
        }
    }

    /// <summary>Starts the workers and the rate sampler.</summary>
    public void Start()
    {
        // Parsing runs on every worker at once; the fan-out into the sink queues runs in take order (parse:ordered), so
        // a connection's lines, which enter the main buffer in order, leave it for each sink in order.
        _parse = Stage.ForEachBatch<RawLine, PipelineRecord[]>(
            Main.Reader,
            ParseBatch,
            FanOutAsync,
            new StageOptions<RawLine>
            {
                Name = "parse",
                Workers = _options.Parse.MinWorkers,
                MaxWorkers = _options.Parse.Workers > _options.Parse.MinWorkers ? _options.Parse.Workers : null,
                Ordered = _options.Parse.Ordered,
                BatchMaxItems = _options.Parse.BatchSize,
                Retry = new RetryOptions { MaxAttempts = 1 },
                TimeProvider = _time,
            },
            _stop.Token);
        foreach (var lane in _lanes)
        {
            lane.Start(_time, _logger, _stop.Token);
        }

        PipelineMetrics.Register(this);
        Sample();
        _sampler = _time.CreateTimer(_ => Sample(), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
    }

    /// <summary>
    /// The main buffer's fill, 0 to 1: the larger of its count and byte fill.
    /// </summary>
    public double MainFill
    {
        get
        {
            var s = Main.GetStatistics();
            return Fill(s);
        }
    }

    /// <summary>Lines per second leaving the main buffer, over the last ten seconds.</summary>
    public double MainDrainRate => _rates.Rate("main.read");

    /// <summary>
    /// How many seconds a refused sender should wait: the time the workers need to drain the main buffer at the
    /// measured rate, 1 to 60.
    /// </summary>
    public int RetryAfterSeconds()
    {
        var s = Main.GetStatistics();
        var rate = MainDrainRate;
        var seconds = rate > 1 ? s.Depth / rate : 1 + (9 * Fill(s));
        return (int)Math.Clamp(Math.Ceiling(seconds), 1, 60);
    }

    /// <summary>Names of sinks whose last health check or write failed; empty when all are up.</summary>
    public IReadOnlyList<string> DownSinks() => [.. _lanes.Where(static l => !l.IsUp).Select(static l => l.Name)];

    /// <summary>Every source's and sink's link to a remote service (a broker), by stage name.</summary>
    public IReadOnlyList<(string Stage, Diagnostics.LinkStatus Link)> Links() =>
    [
        .. Sources.Where(static s => s.Link is not null).Select(static s => ("source:" + s.Name, s.Link!.GetLinkStatus())),
        .. _lanes.Where(static l => l.Link is not null).Select(static l => ("write:" + l.Name, l.Link!.GetLinkStatus())),
    ];

    /// <summary>Probes every sink's health; called by the readiness endpoint.</summary>
    public async Task CheckSinksAsync(CancellationToken cancellationToken)
    {
        foreach (var lane in _lanes)
        {
            await lane.CheckHealthAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Stops intake and drains: completes the main buffer, then waits for each stage in flow order, sharing
    /// <paramref name="timeout"/> among them. At the deadline the stages are cancelled and what they held is
    /// reported as left. Sinks are disposed (flushed) after. Idempotent: a second call returns the same report.
    /// </summary>
    public async Task<ShutdownReport> DrainAsync(TimeSpan timeout)
    {
        if (Interlocked.Exchange(ref _drained, 1) != 0)
        {
            return BuildReport(0, false, TimeSpan.Zero);
        }

        var started = _time.GetTimestamp();
        TimeSpan Remaining() => TimeSpan.FromTicks(Math.Max(0, (timeout - _time.GetElapsedTime(started)).Ticks));
        if (_disk is not null)
        {
            // Lines on disk move into the main buffer first; what the deadline leaves stays on disk for the next start.
            using var deadline = new CancellationTokenSource(Remaining(), _time);
            await _disk.CompleteAsync(deadline.Token).ConfigureAwait(false);
        }

        Main.Writer.Complete();
        long left = 0;
        var completed = true;
        if (_parse is not null)
        {
            var r = await _parse.DrainAsync(Remaining()).ConfigureAwait(false);
            left += r.Left.Count;
            completed &= r.Completed;

            // Lines the parse workers never handed on (their handler hands a batch to every lane or completes the
            // lanes it could not reach, so a line left here still holds its own single reference).
            foreach (var line in r.Left)
            {
                line.Ack?.Complete(DeliveryOutcome.Failed);
            }
        }

        foreach (var lane in _lanes)
        {
            lane.Queue.Writer.Complete();
        }

        foreach (var lane in _lanes)
        {
            var (laneLeft, laneDone) = await lane.DrainAsync(Remaining()).ConfigureAwait(false);
            left += laneLeft;
            completed &= laneDone;
        }

        foreach (var lane in _lanes)
        {
            await lane.DisposeSinkAsync(_logger).ConfigureAwait(false);
        }

        if (_disk is not null)
        {
            // After the sinks flushed: every line they committed is acknowledged, and only the rest stays on disk.
            await _disk.DisposeAsync().ConfigureAwait(false);
        }

        _sampler?.Dispose();
        return BuildReport(left, completed, _time.GetElapsedTime(started));
    }

    /// <summary>The live state of every source, buffer and stage, with rates and the conservation check.</summary>
    public PipelineSnapshot GetSnapshot() => PipelineSnapshot.Build(this);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _sampler?.Dispose();
        PipelineMetrics.Unregister(this);
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_parse is not null)
        {
            await _parse.DisposeAsync().ConfigureAwait(false);
        }

        foreach (var lane in _lanes)
        {
            await lane.DisposeAsync().ConfigureAwait(false);
        }

        if (_disk is not null)
        {
            await _disk.DisposeAsync().ConfigureAwait(false);
        }

        _enrichers.Dispose();
        _stop.Dispose();
    }

    internal static double Fill(BufferStatistics s) =>
        Math.Max(s.Capacity == 0 ? 0 : (double)s.Depth / s.Capacity, s.MaxBytes is { } m && m > 0 ? (double)s.Bytes / m : 0);

    internal IReadOnlyList<SinkLane> Lanes => _lanes;

    internal ConsumerStage<RawLine>? ParseStage => _parse;

    internal long ParsedEvents => Interlocked.Read(ref _parsedEvents);

    internal long ParseDeadLetters => Interlocked.Read(ref _parseDeadLetters);

    /// <summary>Events the parse stage has handed on to the sinks.</summary>
    internal long HandedOnEvents => Interlocked.Read(ref _handedOnEvents);

    /// <summary>Dead letters the parse stage has handed on to the sinks.</summary>
    internal long HandedOnDeadLetters => Interlocked.Read(ref _handedOnDeadLetters);

    internal RateWindow Rates => _rates;

    internal DateTimeOffset Now => _time.GetUtcNow();

    /// <summary>Parses a batch into records (events or dead letters), on any worker, in parallel with the others.</summary>
    private ValueTask<PipelineRecord[]> ParseBatch(IReadOnlyList<RawLine> batch, CancellationToken cancellationToken)
    {
        var records = new PipelineRecord[batch.Count];
        long events = 0;

        // Per-format counts are added once per run of lines with the same source and format, not once per line: two
        // workers incrementing one shared counter per line kept its cache line moving between the cores.
        SourceInfo? runSource = null;
        string? runFormat = null;
        long run = 0;
        for (var i = 0; i < records.Length; i++)
        {
            var line = batch[i];
            var record = Parse(line, out var format);
            records[i] = record;
            if (format is null)
            {
                continue;
            }

            events++;
            if (!ReferenceEquals(line.Source, runSource) || !string.Equals(format, runFormat, StringComparison.Ordinal))
            {
                runSource?.OnParsed(runFormat!, run);
                (runSource, runFormat, run) = (line.Source, format, 0);
            }

            run++;
        }

        runSource?.OnParsed(runFormat!, run);

        Interlocked.Add(ref _parsedEvents, events);
        Interlocked.Add(ref _parseDeadLetters, records.Length - events);
        return ValueTask.FromResult(records);
    }

    /// <summary>
    /// Writes a parsed batch, as one batch, into every sink queue: the only hand-off between the main buffer and the
    /// sinks, run in take order when <c>parse:ordered</c> is on. Never throws: a record that cannot reach a lane (drain
    /// deadline, completed queue) has that lane's acknowledgement reference completed as failed and is counted as not
    /// offered; so each record's reference is completed once per lane whether it was handed on, dropped by a queue or
    /// refused, and the batch's turn ends when this returns (or the worker is cancelled while waiting for it: then the
    /// lines are left with their single reference, completed by <see cref="DrainAsync"/>).
    /// </summary>
    private async ValueTask FanOutAsync(PipelineRecord[] records, CancellationToken cancellationToken)
    {
        if (_lanes.Count > 1)
        {
            // Each record's single reference becomes one per lane, before any lane can complete one.
            foreach (var r in records)
            {
                r.Ack?.AddReferences(_lanes.Count - 1);
            }
        }

        try
        {
            for (var i = 0; i < _lanes.Count; i++)
            {
                if (!await _lanes[i].OfferAsync(records, cancellationToken).ConfigureAwait(false))
                {
                    for (var j = i + 1; j < _lanes.Count; j++)
                    {
                        _lanes[j].NotOffered(records);
                    }

                    return;
                }
            }
        }
        finally
        {
            // Every lane took the records or counted them as not offered: they have left the stage.
            long events = 0;
            foreach (var r in records)
            {
                events += r.Event is null ? 0 : 1;
            }

            Interlocked.Add(ref _handedOnEvents, events);
            Interlocked.Add(ref _handedOnDeadLetters, records.Length - events);
        }
    }

    /// <summary>Parses one line; <paramref name="format"/> is the format that read it, null when it became a dead letter.</summary>
    private PipelineRecord Parse(in RawLine line, out string? format)
    {
        format = null;
        if (line.Refusal is { } reason)
        {
            return PipelineRecord.ForDeadLetter(new DeadLetter(line.Id, line.Source.Name, "source:" + line.Source.Kind, reason, Utf8.Decode(line.Data), line.ReceivedAt), line.Ack);
        }

        ParseOutcome outcome;
        try
        {
            outcome = line.Source.Parser.Parse(line.Data, new LineContext(line.Source.Name, line.Id, line.ReceivedAt, line.Data));
            if (outcome.Event is { } e)
            {
                _enrichers.Apply(e);
                format = outcome.Format ?? line.Source.Parser.Name;
                return PipelineRecord.ForEvent(e, line.Data.Length, line.Ack);
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // A parser or enricher bug must cost one line, kept with the reason, not the batch or the worker.
            return PipelineRecord.ForDeadLetter(new DeadLetter(line.Id, line.Source.Name, line.Source.Parser.Name, "parser failed: " + ex.Message, Utf8.Decode(line.Data), line.ReceivedAt), line.Ack);
        }

        return PipelineRecord.ForDeadLetter(outcome.DeadLetter!, line.Ack);
    }

    private void Sample()
    {
        var values = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var source in Sources)
        {
            values["source:" + source.Name + ".in"] = source.Received;
            values["source:" + source.Name + ".out"] = source.Admitted;
        }

        var m = Main.GetStatistics();
        values["main.written"] = m.Written;
        values["main.read"] = m.Read;
        foreach (var lane in _lanes)
        {
            var q = lane.Queue.GetStatistics();
            values[lane.Queue.Name + ".written"] = q.Written;
            values[lane.Queue.Name + ".read"] = q.Read;
            values[lane.Queue.Name + ".stored"] = lane.StoredEvents + lane.StoredDeadLetters;
        }

        _rates.Add(values);
        _trim.OnSample(m.Written, Main.Count == 0 && _lanes.All(static l => l.Queue.Count == 0));
    }

    private ShutdownReport BuildReport(long left, bool completed, TimeSpan took)
    {
        var sources = Sources;
        var main = Main.GetStatistics();
        var sinks = _lanes.Select(static l => l.Report()).ToList();
        if (sinks.Count > 0)
        {
            // After a drain every admitted line is stored, dead-lettered, dropped or left, per sink: counting left by
            // difference is exact, where adding up each stage's left-overs would count a record caught between two
            // stages twice.
            left = sinks.Max(s => main.Written - main.DroppedOldest - s.StoredEvents - s.StoredDeadLetters - s.Rejected - s.Failed - s.DroppedAtQueue);
        }

        return new ShutdownReport
        {
            Received = sources.Sum(static s => s.Received),
            Admitted = sources.Sum(static s => s.Admitted),
            Refused = sources.Sum(static s => s.Refused),
            DroppedAtSources = sources.Sum(static s => s.Dropped),
            DroppedAtMain = main.Dropped,
            ParsedEvents = ParsedEvents,
            ParseDeadLetters = ParseDeadLetters,
            Sinks = sinks,
            Left = left,
            Completed = completed,
            Took = took,
        };
    }
}
