namespace Conveyor.Logs.Parsing;

/// <summary>
/// Picks a format per line from its signature, the shape of its first bytes, without trial parsing: <c>&lt;</c> and a
/// digit or <c>&gt;</c> (<c>&lt;PRI&gt;</c>) → syslog (RFC 5424 when a version digit follows, else RFC 3164);
/// <c>LEN &lt;</c> → an RFC 6587 octet-counted syslog frame; <c>{</c> → JSON; an ISO date → the file layouts of syslog
/// (<c>YYYY-MM-DDT</c>: RFC 5424 without PRI, or rsyslog's ISO RFC 3164); <c>Mmm dd</c> → RFC 3164 without PRI; <c>key=</c> → logfmt; a
/// <c> [dd/</c> timestamp → access log (combined when a quoted referer follows the bytes, else common).
/// A line with a signature that breaks its format's grammar is a dead letter with that format's reason; a line with no
/// signature is free text, a <c>plain</c> event (<see cref="PlainLineParser"/>). Only an empty line is refused as such.
/// </summary>
internal sealed class AutoParser(TimeZoneInfo zone) : ILogParser
{
    private readonly Syslog5424Parser _syslog5424 = new();
    private readonly Syslog3164Parser _syslog3164 = new(zone);
    private readonly JsonLineParser _json = new(zone);
    private readonly LogfmtParser _logfmt = new(zone);
    private readonly AccessLogParser _access = new(AccessLogLayout.Either);
    private readonly PlainLineParser _plain = new();

    public string Name => "auto";

    public ParseOutcome Parse(ReadOnlySpan<byte> line, in LineContext context)
    {
        if (line.IsEmpty)
        {
            return ParseOutcome.Failure(Name, "auto: empty line", line, context);
        }

        var b = line[0];
        if (b == '<' && line.Length > 1 && (Utf8.IsDigit(line[1]) || line[1] == '>'))
        {
            return ParseSyslog(line, context);
        }

        if (b == '{')
        {
            return _json.Parse(line, context);
        }

        if (Utf8.IsDigit(b))
        {
            var digits = 1;
            while (digits < line.Length && digits < 6 && Utf8.IsDigit(line[digits]))
            {
                digits++;
            }

            if (digits + 1 < line.Length && line[digits] == ' ' && line[digits + 1] == '<')
            {
                return ParseOctetCounted(line, digits, context);
            }

            // An RFC 3339 date-time (with its 'T') is how syslog daemons write files; a date and a space is how
            // application loggers start free text (log4j, Python's logging), which is a plain line.
            if (digits == 4 && line.Length > 10 && line[4] == '-' && line[7] == '-' && line[10] == 'T')
            {
                return LooksLike5424WithoutPri(line)
                    ? Syslog5424Parser.ParseHeader("syslog5424", line, 0, -1, context)
                    : _syslog3164.Parse(line, context);
            }
        }
        else if (line.Length > 5 && line[3] == ' ' && Utf8.Month(line) != 0 && (Utf8.IsDigit(line[4]) || line[4] == ' '))
        {
            return _syslog3164.Parse(line, context);
        }
        else if (LooksLikeLogfmt(line))
        {
            return _logfmt.Parse(line, context);
        }

        var open = AccessLogParser.FindTimestampStart(line);
        return open >= 0 ? _access.Parse(line, context, open) : _plain.Parse(line, context);
    }

    /// <summary>RFC 5424 when a version digit follows <c>&lt;PRI&gt;</c>, else RFC 3164.</summary>
    internal ParseOutcome ParseSyslog(ReadOnlySpan<byte> line, in LineContext context)
    {
        var close = line[..Math.Min(line.Length, 6)].IndexOf((byte)'>');
        return close < 0 || (close + 1 < line.Length && Utf8.IsDigit(line[close + 1]))
            ? _syslog5424.Parse(line, context)
            : _syslog3164.Parse(line, context);
    }

    private ParseOutcome ParseOctetCounted(ReadOnlySpan<byte> line, int digits, in LineContext context)
    {
        var frame = line[(digits + 1)..];
        if (!Utf8.TryParseDigits(line[..digits], out var length) || length != frame.Length)
        {
            return ParseOutcome.Failure("syslog", "syslog: octet count " + length + " does not match the frame length " + frame.Length, line, context);
        }

        return ParseSyslog(frame, context);
    }

    /// <summary>Four header fields after the timestamp, then <c>-</c> or <c>[</c>, and no <c>tag:</c> among them.</summary>
    private static bool LooksLike5424WithoutPri(ReadOnlySpan<byte> line)
    {
        var pos = 0;
        for (var field = 0; field < 5; field++)
        {
            var sp = line[pos..].IndexOf((byte)' ');
            if (sp <= 0 || line[pos + sp - 1] == ':')
            {
                return false;
            }

            pos += sp + 1;
        }

        return pos < line.Length && (line[pos] == '-' || line[pos] == '[');
    }

    private static bool LooksLikeLogfmt(ReadOnlySpan<byte> line)
    {
        var b = line[0];
        if (!((b | 0x20) >= 'a' && (b | 0x20) <= 'z') && b != '_' && b != '@')
        {
            return false;
        }

        for (var i = 1; i < line.Length && i < 128; i++)
        {
            b = line[i];
            if (b == '=')
            {
                return true;
            }

            if (!(((b | 0x20) >= 'a' && (b | 0x20) <= 'z') || Utf8.IsDigit(b) || b is (byte)'_' or (byte)'.' or (byte)'-' or (byte)'@' or (byte)'/'))
            {
                return false;
            }
        }

        return false;
    }
}

/// <summary><c>syslog</c>: RFC 5424 or RFC 3164 by the shape after <c>&lt;PRI&gt;</c>; lines without PRI are read as RFC 3164.</summary>
internal sealed class SyslogParser(TimeZoneInfo zone) : ILogParser
{
    private readonly AutoParser _auto = new(zone);
    private readonly Syslog3164Parser _syslog3164 = new(zone);

    public string Name => "syslog";

    public ParseOutcome Parse(ReadOnlySpan<byte> line, in LineContext context) =>
        !line.IsEmpty && line[0] == '<' ? _auto.ParseSyslog(line, context) : _syslog3164.Parse(line, context);
}
