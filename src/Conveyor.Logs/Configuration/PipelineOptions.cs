using Conveyor.Durable;
using Conveyor.Logs.Enrichment;
using Conveyor.Logs.Sinks;

namespace Conveyor.Logs.Configuration;

/// <summary>
/// The whole service configuration (docs/REFERENCE.md, "Configuration"). Each property maps one-to-one onto a config key
/// (<c>sources:0:port</c>, <c>buffer:maxBytes</c>, <c>sinks:0:mode</c>…); <see cref="PipelineOptionsValidator"/>
/// names the key of every problem.
/// </summary>
public sealed class PipelineOptions
{
    /// <summary>Where records come from. Required: at least one (the zero-config defaults fill it when there is no config).</summary>
    public List<SourceOptions> Sources { get; set; } = [];

    /// <summary>The main buffer between the sources and the parse workers. Default 20,000 lines and 64 MiB, <c>Block</c>.</summary>
    /// <remarks>
    /// 20,000 lines ride out 0.4 s at the seed's 50,000 lines/s; a deeper buffer only adds memory and latency. Measured
    /// (docs/BENCHMARKS.md, issue 11): 100,000 lines kept every line alive long enough to be promoted to the oldest
    /// GC generation, for a peak RSS of 290–330 MiB through TCP → NDJSON; 20,000 lines gave 202 MiB at the same CPU per line.
    /// </remarks>
    public BufferSettings Buffer { get; set; } = new() { Capacity = DefaultMainCapacity, MaxBytes = DefaultMainMaxBytes };

    /// <summary>The main buffer's capacity in lines when <c>buffer:capacity</c> is not set.</summary>
    public const int DefaultMainCapacity = 20_000;

    /// <summary>The main buffer's byte bound when <c>buffer:maxBytes</c> is not set: 64 MiB.</summary>
    public const long DefaultMainMaxBytes = 64L << 20;

    /// <summary>The parse and enrich workers.</summary>
    public ParseSettings Parse { get; set; } = new();

    /// <summary>Where events go. Required: at least one.</summary>
    public List<SinkOptions> Sinks { get; set; } = [];

    /// <summary>Graceful shutdown.</summary>
    public ShutdownSettings Shutdown { get; set; } = new();
}

/// <summary>The bounds and full policy of one buffer.</summary>
public sealed class BufferSettings
{
    /// <summary>
    /// The most items held at once. Default 20,000 for the main buffer. For a sink queue: the sink's batch size, at
    /// least 4,096, when the sink paces the pipeline; 50,000 when it is isolated (see <see cref="SinkOptions.Queue"/>).
    /// </summary>
    public int? Capacity { get; set; }

    /// <summary>
    /// The most bytes held at once (raw line bytes plus a fixed overhead per line). Default 64 MiB for the main buffer;
    /// for a sink queue the sink's own: 96 MiB for <c>duckdb:</c> (two of its 16,384-event batches and room for the
    /// next), 32 MiB for the others. A sink's batch takes at most half its queue's bytes.
    /// </summary>
    public long? MaxBytes { get; set; }

    /// <summary>
    /// What a full buffer does with a write: <c>Block</c> (the writer waits: TCP stops reading, HTTP answers 429
    /// after its block timeout), <c>DropNewest</c>, <c>DropOldest</c> or <c>Reject</c> (counted drops). Default
    /// <c>Block</c> for the main buffer, <c>DropNewest</c> for a sink queue in <c>isolate</c> mode.
    /// </summary>
    public FullMode FullMode { get; set; } = FullMode.Block;

    /// <summary>Under <c>Block</c>, how long a writer waits before its write counts as dropped. Default none: wait.</summary>
    public TimeSpan? BlockTimeout { get; set; }

    /// <summary>
    /// Main buffer only: <c>memory</c> (the default: lost on a crash) or <c>disk</c> (a <see cref="DiskBuffer"/> at
    /// <see cref="Path"/>: a line is admitted — HTTP 202, TCP and syslog counted, file checkpoints advanced — only once
    /// on disk, and leaves it only when every sink committed it). See docs/DURABILITY.md.
    /// </summary>
    public BufferType Type { get; set; } = BufferType.Memory;

    /// <summary>Main buffer, <c>disk</c> only: the buffer's directory, created when missing. Default <c>./conveyor-data/buffer</c>.</summary>
    public string Path { get; set; } = DefaultDiskPath;

    /// <summary>Main buffer, <c>disk</c> only: the most bytes the segment files may take. Default 1 GiB, at least 64 KiB.</summary>
    public long MaxDiskBytes { get; set; } = DiskBufferOptions.DefaultMaxDiskBytes;

    /// <summary>Main buffer, <c>disk</c> only: <c>always</c>, <c>interval</c> (default: fsync every 100 ms) or <c>never</c>; loss windows in docs/DURABILITY.md.</summary>
    public FsyncPolicy Fsync { get; set; } = FsyncPolicy.Interval;

    /// <summary>The default for <see cref="Path"/>.</summary>
    public const string DefaultDiskPath = "./conveyor-data/buffer";
}

/// <summary>Where the main buffer keeps its lines.</summary>
public enum BufferType
{
    /// <summary>In memory: fast; what it holds is lost on a crash.</summary>
    Memory,

    /// <summary>In segment files on disk: survives a crash; see docs/DURABILITY.md.</summary>
    Disk,
}

/// <summary>The parse and enrich workers.</summary>
public sealed class ParseSettings
{
    /// <summary>The most parallel workers. Default: the processor count, at most 4.</summary>
    public int Workers { get; set; } = Math.Clamp(Environment.ProcessorCount, 1, 4);

    /// <summary>
    /// Workers that always run, 1 to <see cref="Workers"/>. Default 1. The stage adds one (up to <see cref="Workers"/>)
    /// each second while more than a batch per worker waits in the main buffer, and retires one after three seconds
    /// with nothing waiting (the core stage's <c>StageOptions.MaxWorkers</c>). At a rate one worker keeps up with
    /// (the seed's 50,000 lines/s keep one busy a few percent of the time) a second one only woke to find the buffer
    /// empty: on 2 cores it cost ~5% of the process's CPU (docs/BENCHMARKS.md, "Parse workers that follow the
    /// backlog").
    /// </summary>
    public int MinWorkers { get; set; } = 1;

    /// <summary>Lines a worker takes at once. Default 512.</summary>
    public int BatchSize { get; set; } = 512;

    /// <summary>
    /// Hand parsed batches to the sink queues in the order the workers took them from the main buffer, so the lines of
    /// one connection or file reach every sink in the order they arrived, whatever the worker count (the core stage's
    /// <c>StageOptions.Ordered</c>). Default true. False lets a worker hand its batch on as soon as it is parsed: two
    /// batches of one connection may then reach a sink in either order.
    /// </summary>
    public bool Ordered { get; set; } = true;

    /// <summary>Which enrichers run. Default: status class, severity from status and user agent.</summary>
    public EnricherOptions Enrichers { get; set; } = new();

    /// <summary>The zone of timestamps that carry none, as a TimeZoneInfo id. Default <c>UTC</c>.</summary>
    public string TimeZone { get; set; } = "UTC";
}

/// <summary>How a sink's queue meets a sink slower than its input.</summary>
public enum SinkMode
{
    /// <summary>The default: <see cref="Pace"/> when the pipeline has one sink (there is nothing to isolate it from), else <see cref="Isolate"/>.</summary>
    Auto,

    /// <summary>The sink's queue fills and its own full policy decides; a slow sink never slows the others.</summary>
    Isolate,

    /// <summary>A full queue blocks the workers, so the sink's pace reaches the senders; nothing is dropped.</summary>
    Pace,
}

/// <summary>One sink and its queue.</summary>
public sealed class SinkOptions
{
    /// <summary>
    /// The sink: <c>duckdb:PATH</c> (the zero-config default, <c>./conveyor-data/conveyor.duckdb</c>), <c>sqlite:PATH</c>, <c>postgres:CONNSTR</c>, <c>ndjson:PATH</c>, <c>ndjson:-</c> (stdout), or the
    /// test and benchmark sinks <c>null:</c> (discards) and <c>slow:DURATION+URI</c> (waits DURATION per batch, then writes to URI). Required.
    /// </summary>
    public string Uri { get; set; } = string.Empty;

    /// <summary>How a slow sink affects the rest. Default <see cref="SinkMode.Auto"/>.</summary>
    public SinkMode Mode { get; set; } = SinkMode.Auto;

    /// <summary>
    /// The sink's queue. Default 32 MiB and, in pace mode, the sink's batch size (at least 4,096 records), in isolate
    /// mode 50,000 records; its full mode applies in isolate mode (default <c>DropNewest</c>).
    /// </summary>
    /// <remarks>
    /// Why two defaults: a paced sink's queue only has to hand the writer its next batch while it writes the last
    /// one; the main buffer (raw lines, one object each) absorbs bursts. Every parsed event queued beyond that lives
    /// long enough to be promoted by the GC. Measured (docs/BENCHMARKS.md, "Sink queue depth"): TCP → NDJSON with a
    /// 50,000-record queue sat at its 32 MiB bound (~14,500 events) and cost ~20% more CPU per line and 190 MiB peak
    /// RSS, against ~115 MiB with 2,000–4,096. An isolated sink's queue is what lets it fall behind for a while
    /// without drops, so it stays deep.
    /// </remarks>
    public BufferSettings Queue { get; set; } = new() { FullMode = FullMode.DropNewest };

    /// <summary>The queue capacity an isolated sink gets when <c>queue:capacity</c> is not set.</summary>
    public const int IsolatedQueueCapacity = 50_000;

    /// <summary>The smallest queue capacity a paced sink gets when <c>queue:capacity</c> is not set.</summary>
    public const int PacedQueueMinCapacity = 4_096;

    /// <summary>Most events per write. Default: the sink's own (16,384 for <c>duckdb:</c>, one row group; 1,000 for the others).</summary>
    public int? BatchMaxItems { get; set; }

    /// <summary>The batch size the sink writes: <see cref="BatchMaxItems"/>, else the sink's own default for its URI.</summary>
    public int EffectiveBatchMaxItems => BatchMaxItems ?? SinkRegistry.Defaults(Uri).DefaultBatchMaxItems;

    /// <summary>The queue's byte bound: <see cref="BufferSettings.MaxBytes"/> of <see cref="Queue"/>, else the sink's own default.</summary>
    public long EffectiveQueueMaxBytes => Queue.MaxBytes ?? SinkRegistry.Defaults(Uri).DefaultQueueMaxBytes;

    /// <summary>
    /// How long a partial batch waits for more before it is written. Default: the sink's own (500 ms for
    /// <c>duckdb:</c>, where a batch that fills its row group is written at about 0.7× the CPU: at the seed's 50,000
    /// lines/s one fills in ~330 ms; 100 ms for the others).
    /// </summary>
    public TimeSpan? BatchLinger { get; set; }

    /// <summary>The linger the sink's batches get: <see cref="BatchLinger"/>, else the sink's own default.</summary>
    public TimeSpan EffectiveBatchLinger => BatchLinger ?? SinkRegistry.Defaults(Uri).DefaultBatchLinger;

    /// <summary>
    /// How a failed write is tried again (<c>sinks:N:retry:maxAttempts</c>, <c>baseDelay</c>, <c>maxDelay</c>,
    /// <c>useJitter</c>). <c>maxAttempts</c> counts attempts in all, the first included, per batch (each half of a
    /// bisected batch starts again at 1): 1 means no retry. A transient failure is retried with exponential back-off
    /// (or the store's <c>Retry-After</c>); a permanent one halves the batch until the refused events are alone, which
    /// are then stored as dead letters (parser <c>sink:NAME</c>). Default <see cref="Sinks.ResilientSink.DefaultRetry"/>:
    /// 61 attempts, 200 ms doubling up to 5 s.
    /// </summary>
    public RetryOptions Retry { get; set; } = Sinks.ResilientSink.DefaultRetry();

    /// <summary>A <c>duckdb:</c> sink's memory limit and threads (<c>sinks:N:duckdb:memoryLimit</c>, <c>:threads</c>). Default 256 MiB, half the processor count (1 to 4).</summary>
    public Sinks.DuckDb.DuckDbSettings DuckDb { get; set; } = new();

    /// <summary>
    /// The store's full-text index: <c>sqlite:</c> <c>words</c> (default) | <c>trigram</c> | <c>none</c>;
    /// <c>postgres:</c> <c>trigram</c> (default, built on closed days) | <c>none</c>. Default null: the store's default.
    /// </summary>
    public string? FullText { get; set; }

    /// <summary>How much the store keeps and how often that is enforced (<c>maxAge</c>, <c>maxBytes</c>, <c>interval</c>). Default: everything is kept; maintenance every 5 minutes.</summary>
    public RetentionSettings Retention { get; set; } = new();
}

/// <summary>Graceful shutdown.</summary>
public sealed class ShutdownSettings
{
    /// <summary>How long a stop may take to drain every buffer and sink queue; what is left then is reported. Default 30 s.</summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(30);
}
