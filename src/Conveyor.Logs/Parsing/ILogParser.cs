using Conveyor.Logs.Model;

namespace Conveyor.Logs.Parsing;

/// <summary>
/// Turns one record (a line, or a syslog frame) into a <see cref="LogEvent"/> or a <see cref="DeadLetter"/>.
/// </summary>
/// <remarks>
/// Implementations are immutable after construction, so one instance serves every worker thread at once.
/// <see cref="Parse"/> never throws, whatever bytes it is given: a record it cannot read becomes a dead letter
/// whose reason names the format, what was expected and where.
/// </remarks>
public interface ILogParser
{
    /// <summary>The format name, e.g. <c>combined</c>; dead letters carry it as their parser.</summary>
    string Name { get; }

    /// <summary>Parses one record given as UTF-8 bytes without its line terminator.</summary>
    ParseOutcome Parse(ReadOnlySpan<byte> line, in LineContext context);
}

/// <summary>Where a record came from and when it arrived.</summary>
/// <param name="Source">The source's name.</param>
/// <param name="Id">Stable per record (source + position), so a replay yields the same id.</param>
/// <param name="ReceivedAt">When Conveyor received the record; the event's observed time, and the clock that
/// resolves the missing year of RFC 3164 timestamps.</param>
/// <param name="Line">When set, the array holding exactly the bytes given to <see cref="ILogParser.Parse"/>, owned by the
/// record and never changed after: a parser whose body is the whole line keeps it as the event's body instead of
/// decoding a copy (<see cref="LogEvent(string, string, byte[], DateTimeOffset)"/>). Null when the bytes are borrowed.</param>
public readonly record struct LineContext(string Source, string Id, DateTimeOffset ReceivedAt, byte[]? Line = null)
{
    /// <summary>A new event whose body is the whole <paramref name="line"/>: its array when <see cref="Line"/> holds it, else a decoded copy.</summary>
    internal LogEvent EventOfLine(ReadOnlySpan<byte> line) =>
        Line is { } owned && owned.Length == line.Length
            ? new LogEvent(Id, Source, owned, ReceivedAt)
            : new LogEvent(Id, Source, Utf8.Decode(line), ReceivedAt);
}

/// <summary>Either an event or a dead letter, never both.</summary>
public readonly struct ParseOutcome
{
    private ParseOutcome(LogEvent? logEvent, DeadLetter? deadLetter, string? format)
    {
        Event = logEvent;
        DeadLetter = deadLetter;
        Format = format;
    }

    /// <summary>The parsed event; null when the record was refused.</summary>
    public LogEvent? Event { get; }

    /// <summary>Why and what was refused; null on success.</summary>
    public DeadLetter? DeadLetter { get; }

    /// <summary>
    /// The format that read the record: for <c>auto</c> the one it detected (<c>combined</c>, <c>common</c>, <c>json</c>,
    /// <c>logfmt</c>, <c>syslog5424</c>, <c>syslog3164</c>, or <c>plain</c> for a line with no format's signature); for a
    /// dead letter its parser. Null when the parser did not say.
    /// </summary>
    public string? Format { get; }

    /// <summary>True when <see cref="Event"/> is set.</summary>
    public bool Succeeded => Event is not null;

    /// <summary>A successful outcome; <paramref name="format"/> names the format that read it (see <see cref="Format"/>).</summary>
    public static ParseOutcome Success(LogEvent logEvent, string? format = null)
    {
        ArgumentNullException.ThrowIfNull(logEvent);
        return new(logEvent, null, format);
    }

    /// <summary>A refused record.</summary>
    public static ParseOutcome Failure(DeadLetter deadLetter)
    {
        ArgumentNullException.ThrowIfNull(deadLetter);
        return new(null, deadLetter, deadLetter.Parser);
    }

    /// <summary>A refused record built from its raw bytes; invalid UTF-8 becomes U+FFFD.</summary>
    public static ParseOutcome Failure(string parser, string reason, ReadOnlySpan<byte> line, in LineContext context) =>
        new(null, new DeadLetter(context.Id, context.Source, parser, reason, Utf8.Decode(line), context.ReceivedAt), parser);
}
