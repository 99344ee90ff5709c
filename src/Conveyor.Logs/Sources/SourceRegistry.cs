using Conveyor.Logs.Pipeline;
using Conveyor.Logs.Configuration;
using Conveyor.Logs.Model;
using Conveyor.Logs.Parsing;
using Conveyor.Logs.Sources.Amqp;
using Conveyor.Logs.Sources.Elasticsearch;
using Conveyor.Logs.Sources.FileTail;
using Conveyor.Logs.Sources.Http;
using Conveyor.Logs.Sources.Otlp;
using Conveyor.Logs.Sources.Stdin;
using Conveyor.Logs.Sources.Tcp;
using Conveyor.Logs.Sources.Udp;
using Microsoft.Extensions.Logging;

namespace Conveyor.Logs.Sources;

/// <summary>What a source factory is given.</summary>
/// <param name="Options">The source's settings.</param>
/// <param name="Info">Its name, parser and counters.</param>
/// <param name="Output">The main buffer.</param>
/// <param name="Logger">Where it logs.</param>
/// <param name="Time">The clock.</param>
public sealed record SourceContext(SourceOptions Options, SourceInfo Info, LineIntake Output, ILogger Logger, TimeProvider Time)
{
    /// <summary>
    /// The main buffer's bounds and the wait a refused sender is told, for sources that answer each request (OTLP,
    /// Elasticsearch); null where the host has no such view (they then assume an unbounded buffer and 1 s).
    /// </summary>
    public MainBufferView? Main { get; init; }
}

/// <summary>Creates a source (not yet started) from its context.</summary>
public delegate LogSource SourceFactory(SourceContext context);

/// <summary>One kind of source, registered by URI scheme in <see cref="SourceRegistry"/>.</summary>
/// <param name="Type">The <c>type</c> of <c>sources:N</c>.</param>
/// <param name="Scheme">The scheme of <c>--from</c>, e.g. <c>tcp</c>.</param>
/// <param name="Syntax">The URI form, as messages list it, e.g. <c>tcp://H:P</c>.</param>
/// <param name="Create">Creates the source; null for a source the host serves itself (HTTP, served by Kestrel).</param>
public sealed record SourceRegistration(SourceType Type, string Scheme, string Syntax, SourceFactory? Create)
{
    /// <summary>True when the URI is <c>scheme://HOST:PORT</c>.</summary>
    public bool HostAndPort { get; init; }

    /// <summary>Other schemes <c>--from</c> accepts for this source.</summary>
    public IReadOnlyList<string> Aliases { get; init; } = [];

    /// <summary>
    /// The parser of this source's records, given the parser of its configured format: the format's own by default;
    /// a source whose records are not plain lines (<c>amqp</c>: encoded batches) wraps it.
    /// </summary>
    public Func<ILogParser, ILogParser> Parser { get; init; } = static p => p;

    /// <summary>The parser of a protocol whose records are no text format (OTLP), used instead of one by format name; null otherwise.</summary>
    public ILogParser? OwnParser { get; init; }

    /// <summary>The format the protocol fixes (<c>otlp</c>, <c>json</c>); null when the records' format is configurable (<c>format</c>).</summary>
    public string? FixedFormat { get; init; }
}

/// <summary>Every source by URI scheme and type. A new source is a folder under <c>Sources/</c> and one line in <see cref="All"/>.</summary>
public static class SourceRegistry
{
    /// <summary>The registered sources, in the order messages list them.</summary>
    public static IReadOnlyList<SourceRegistration> All { get; } =
    [
        TcpSourceFactory.Registration,
        UdpSourceFactory.Registration,
        TcpSourceFactory.SyslogRegistration,
        UdpSourceFactory.SyslogRegistration,
        HttpSourceFactory.Registration,
        FileTailSourceFactory.Registration,
        StdinSourceFactory.Registration,
        AmqpSourceFactory.Registration,
        OtlpSourceFactory.HttpRegistration,
        OtlpSourceFactory.GrpcRegistration,
        ElasticsearchSourceFactory.Registration,
    ];

    /// <summary>The source of <paramref name="scheme"/> (lower case) or one of its aliases; null when there is none.</summary>
    public static SourceRegistration? FindScheme(string scheme) =>
        All.FirstOrDefault(r => r.Scheme == scheme || r.Aliases.Contains(scheme));

    /// <summary>The source of <paramref name="type"/>.</summary>
    public static SourceRegistration For(SourceType type) =>
        All.FirstOrDefault(r => r.Type == type) ?? throw new ArgumentOutOfRangeException(nameof(type), type, "no source is registered for this type");

    /// <summary>Creates the source of <paramref name="context"/>'s type.</summary>
    /// <exception cref="InvalidOperationException">The host serves this type itself (HTTP).</exception>
    public static LogSource Create(SourceContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return For(context.Options.Type).Create is { } create
            ? create(context)
            : throw new InvalidOperationException("unreachable: http sources are served by Kestrel");
    }
}
