namespace Conveyor.Logs.Parsing;

/// <summary>Builds parsers by format name.</summary>
public static class LogParsers
{
    /// <summary>The built-in format names.</summary>
    public static readonly IReadOnlyList<string> BuiltInFormats = ["auto", "combined", "common", "json", "logfmt", "syslog", "syslog5424", "syslog3164", "plain"];

    /// <summary>
    /// Creates the parser for <paramref name="format"/>: one of <see cref="BuiltInFormats"/> or the name of one of
    /// <see cref="ParserOptions.Patterns"/>. The parser is thread-safe and never throws from
    /// <see cref="ILogParser.Parse"/>; a failure inside it becomes a dead letter with reason <c>internal error: …</c>.
    /// </summary>
    /// <exception cref="ArgumentException">The format is unknown, or the named pattern is invalid.</exception>
    public static ILogParser Create(string format, ParserOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(format);
        options ??= new ParserOptions();
        var zone = options.TimeZone;
        ILogParser parser = format switch
        {
            "auto" => new AutoParser(zone),
            "combined" => new AccessLogParser(AccessLogLayout.Combined),
            "common" => new AccessLogParser(AccessLogLayout.Common),
            "json" => new JsonLineParser(zone),
            "logfmt" => new LogfmtParser(zone),
            "syslog" => new SyslogParser(zone),
            "syslog5424" => new Syslog5424Parser(),
            "syslog3164" => new Syslog3164Parser(zone),
            "plain" => new PlainLineParser(),
            _ => options.Patterns.FirstOrDefault(p => p.Name == format) is { } pattern
                ? new PatternParser(pattern, zone)
                : throw new ArgumentException(
                    $"unknown format '{format}' (expected {string.Join('|', BuiltInFormats.Concat(options.Patterns.Select(p => p.Name)))})",
                    nameof(format)),
        };
        return new GuardedParser(parser);
    }

    private sealed class GuardedParser(ILogParser inner) : ILogParser
    {
        public string Name => inner.Name;

        public ParseOutcome Parse(ReadOnlySpan<byte> line, in LineContext context)
        {
            try
            {
                return inner.Parse(line, context);
            }
            catch (Exception ex)
            {
                // A parser bug must cost one record, never the worker; the dead letter makes the bug visible.
                return ParseOutcome.Failure(inner.Name, inner.Name + ": internal error: " + ex.GetType().Name + ": " + ex.Message, line, context);
            }
        }
    }
}
