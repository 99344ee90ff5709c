namespace Conveyor.Logs.Configuration;

/// <summary>The kinds of source (docs/REFERENCE.md, "conveyor run" <c>--from</c>).</summary>
public enum SourceType
{
    /// <summary><c>POST /ingest</c> over HTTP; its listener also serves the dashboard, metrics and APIs.</summary>
    Http,

    /// <summary>Newline-delimited lines over TCP.</summary>
    Tcp,

    /// <summary>One line per UDP datagram.</summary>
    Udp,

    /// <summary>Syslog over TCP, RFC 6587 octet-counting or newline framing.</summary>
    SyslogTcp,

    /// <summary>Syslog over UDP, one message per datagram.</summary>
    SyslogUdp,

    /// <summary>Files matching a glob, tailed across rotation and truncation.</summary>
    File,

    /// <summary>Standard input until EOF.</summary>
    Stdin,

    /// <summary>Messages of records from a RabbitMQ queue (<c>amqp://…</c>, a worker), acknowledged once stored.</summary>
    Amqp,

    /// <summary>OTLP/HTTP logs (<c>POST /v1/logs</c>, protobuf or JSON) on a listener of its own.</summary>
    Otlp,

    /// <summary>OTLP/gRPC logs (<c>LogsService/Export</c>) on a listener of its own.</summary>
    OtlpGrpc,

    /// <summary>The Elasticsearch bulk API (<c>POST /_bulk</c>) on a listener of its own.</summary>
    Elasticsearch,
}

/// <summary>What a file tail does with the checkpoint an earlier run left (config key <c>checkpoint</c>).</summary>
public enum FileCheckpoint
{
    /// <summary>Continue each file where the last run stopped.</summary>
    Resume,

    /// <summary>Start over: read every file from its first byte.</summary>
    Ignore,
}

/// <summary>One source. Keys that do not apply to its <see cref="Type"/> are ignored.</summary>
public sealed class SourceOptions
{
    /// <summary>The kind of source. Required.</summary>
    public SourceType Type { get; set; }

    /// <summary>The source's name: the <c>source</c> of its events and the prefix of their ids. Default: the type and port, e.g. <c>tcp-5170</c>.</summary>
    public string? Name { get; set; }

    /// <summary>The address to listen on. Default <c>127.0.0.1</c>.</summary>
    public string Host { get; set; } = "127.0.0.1";

    /// <summary>The port to listen on (1-65535). Required for network sources.</summary>
    public int Port { get; set; }

    /// <summary>AMQP: the broker and queue, <c>amqp://USER:PASS@HOST:PORT[/VHOST][?queue=NAME&amp;prefetch=N…]</c> (see <c>AmqpSettings</c>). Required for <c>amqp</c>.</summary>
    public string? Uri { get; set; }

    /// <summary>The file glob to tail, e.g. <c>/var/log/nginx/*.log</c>. Required for <c>file</c>.</summary>
    public string? Path { get; set; }

    /// <summary>The format of the lines (as for <c>conveyor parse</c>). Default <c>auto</c>; <c>syslog</c> for syslog sources. For <c>amqp</c>, the format of raw records (parsed events arrive parsed).</summary>
    public string? Format { get; set; }

    /// <summary>The longest line accepted; a longer one is dead-lettered whole, never split (an OTLP record or a bulk document that long is rejected to its sender). Default 64 KiB.</summary>
    public int MaxLineBytes { get; set; } = 64 * 1024;

    /// <summary>TCP: a connection that sends nothing for this long is closed (slowloris). Default 5 minutes.</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// TCP: the most connections served at once. Default 1,000. A new connection at the limit closes the connection
    /// idle longest to take its place, or is refused when every connection is busy (waiting for buffer room); both are
    /// counted.
    /// </summary>
    public int MaxConnections { get; set; } = 1_000;

    /// <summary>HTTP, OTLP and Elasticsearch: the bearer token every request must carry; none when null. Default null.</summary>
    public string? BearerToken { get; set; }

    /// <summary>HTTP, OTLP and Elasticsearch: the largest request body (after gzip decompression too); larger is 413. Default 8 MiB.</summary>
    public long MaxBodyBytes { get; set; } = 8L << 20;

    /// <summary>
    /// HTTP, OTLP/HTTP and Elasticsearch: the bytes of request bodies read but not yet in the main buffer, over all
    /// requests to the source at once (part of the memory budget). A request that would go over it is answered 429
    /// with <c>Retry-After</c> before its body is read (the rest of the body is read and thrown away after the
    /// answer). Default 32 MiB.
    /// </summary>
    public long MaxBodyBytesInFlight { get; set; } = 32L << 20;

    /// <summary>HTTP, OTLP and Elasticsearch: how long a request waits for room in a full buffer before it is answered 429 (gRPC: RESOURCE_EXHAUSTED). Default 1 s.</summary>
    public TimeSpan BlockTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>File: where offsets are checkpointed. Default <c>./conveyor-data/checkpoints</c>.</summary>
    public string CheckpointDirectory { get; set; } = "./conveyor-data/checkpoints";

    /// <summary>
    /// File: <see cref="FileCheckpoint.Resume"/> continues every file at its checkpointed byte (and says so at start-up);
    /// <see cref="FileCheckpoint.Ignore"/> discards the checkpoint and reads every file from the start (URI
    /// <c>file:///…?checkpoint=ignore</c>). Default <c>resume</c>.
    /// </summary>
    public FileCheckpoint Checkpoint { get; set; } = FileCheckpoint.Resume;

    /// <summary>File: how often the tail looks for new files and data when it found none last time. Default 1 s (an idle tail then costs ~0% CPU).</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// File: how long a file that left the glob (renamed away, as logrotate's <c>create</c> does, or deleted) is still
    /// followed after its last growth, because its writer goes on writing to it until it reopens the path. Default 5 s
    /// (Fluent Bit's <c>rotate_wait</c>).
    /// </summary>
    public TimeSpan RotateWait { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The name, or its default from the type and port.</summary>
    public string EffectiveName => Name ?? Type switch
    {
        SourceType.Stdin => "stdin",
        SourceType.File => "file",
        SourceType.Amqp => "amqp",
        _ => TypeName(Type) + "-" + Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    /// <summary>The format, or its default for the type.</summary>
    /// <remarks>A protocol that fixes its format (OTLP records, Elasticsearch's JSON documents) has that format whatever <see cref="Format"/> says.</remarks>
    public string EffectiveFormat => Sources.SourceRegistry.All.FirstOrDefault(r => r.Type == Type)?.FixedFormat
        ?? Format ?? (Type is SourceType.SyslogTcp or SourceType.SyslogUdp ? "syslog" : "auto");

    /// <summary>The kebab-case name of a source type, as <c>--from</c> and <c>/api/pipeline</c> spell it.</summary>
    public static string TypeName(SourceType type) => type switch
    {
        SourceType.SyslogTcp => "syslog-tcp",
        SourceType.SyslogUdp => "syslog-udp",
        SourceType.OtlpGrpc => "otlp-grpc",
        _ => type.ToString().ToLowerInvariant(),
    };
}
