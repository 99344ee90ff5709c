using Conveyor.Logs.Model;

namespace Conveyor.Logs.Parsing;

/// <summary>
/// BSD syslog (RFC 3164) as sent and as written to files: <c>[&lt;PRI&gt;]Mmm dd hh:mm:ss HOST TAG[[pid]]: MSG</c>, the
/// day space-padded or not. The rsyslog file format with an ISO-8601 timestamp in place of <c>Mmm dd hh:mm:ss</c> is
/// accepted too. A record without a TAG is refused, except syslogd's own <c>--- last message repeated … ---</c>.
/// </summary>
/// <remarks>
/// The year, which the format does not carry, is the receive time's year in <see cref="ParserOptions.TimeZone"/>, one
/// less when that would put the record more than a day after the receive time (a December line read in January). The
/// timestamp as written is kept in <c>syslog.timestamp_raw</c>.
/// </remarks>
internal sealed class Syslog3164Parser(TimeZoneInfo zone) : ILogParser
{
    public string Name => "syslog3164";

    public ParseOutcome Parse(ReadOnlySpan<byte> line, in LineContext context)
    {
        var reason = TryParse(line, context, out var e);
        return reason is null ? ParseOutcome.Success(e!, Name) : ParseOutcome.Failure(Name, Name + ": " + reason, line, context);
    }

    private string? TryParse(ReadOnlySpan<byte> line, in LineContext context, out LogEvent? e)
    {
        e = null;
        var pos = 0;
        var pri = -1;
        if (!line.IsEmpty && line[0] == '<')
        {
            pos = SyslogPriority.TryParse(line, out pri, out var priReason);
            if (pos < 0)
            {
                return priReason;
            }
        }

        var tsStart = pos;
        DateTimeOffset timestamp;
        if (pos < line.Length && Utf8.IsDigit(line[pos]))
        {
            var sp = line[pos..].IndexOf((byte)' ');
            if (sp < 0 || !Timestamps.TryParseIso(line.Slice(pos, sp), zone, out timestamp))
            {
                return "invalid ISO-8601 timestamp at column " + (pos + 1);
            }

            pos += sp + 1;
        }
        else
        {
            var end = TryParseBsdTime(line, pos, context.ReceivedAt, out timestamp);
            if (end < 0)
            {
                return "expected timestamp 'Mmm dd hh:mm:ss' at column " + (pos + 1);
            }

            pos = end;
        }

        var raw = Utf8.Decode(line[tsStart..(pos - 1)]);
        var rest = line[pos..];
        if (rest.StartsWith("--- "u8) && rest.EndsWith(" ---"u8))
        {
            e = NewEvent(rest, context, timestamp, raw, pri);
            return null;
        }

        var hostEnd = rest.IndexOf((byte)' ');
        if (hostEnd <= 0)
        {
            return "expected HOSTNAME followed by ' ' at column " + (pos + 1);
        }

        var host = rest[..hostEnd];
        var tagStart = hostEnd + 1;
        var i = tagStart;
        while (i < rest.Length && rest[i] is not ((byte)'[' or (byte)':' or (byte)' '))
        {
            i++;
        }

        var tag = rest[tagStart..i];
        ReadOnlySpan<byte> pid = default;
        if (i < rest.Length && rest[i] == '[')
        {
            var close = rest[i..].IndexOf((byte)']');
            if (close < 0)
            {
                return "TAG '[' has no closing ']' at column " + (pos + i + 1);
            }

            pid = rest.Slice(i + 1, close - 1);
            i += close + 1;
        }

        if (tag.IsEmpty || i >= rest.Length || rest[i] != ':')
        {
            return "expected TAG followed by ':' (or 'tag[pid]:') after HOSTNAME at column " + (pos + tagStart + 1);
        }

        i++;
        if (i < rest.Length && rest[i] == ' ')
        {
            i++;
        }

        e = NewEvent(rest[i..], context, timestamp, raw, pri);
        var a = e.Attributes;
        a.Set(SemanticNames.HostName, Utf8.Decode(host));
        a.Set(SemanticNames.SyslogAppName, Utf8.Decode(tag));
        if (!pid.IsEmpty)
        {
            a.Set(SemanticNames.SyslogProcId, Utf8.Decode(pid));
        }

        return null;
    }

    private static LogEvent NewEvent(ReadOnlySpan<byte> msg, in LineContext context, DateTimeOffset timestamp, string raw, int pri)
    {
        var e = new LogEvent(context.Id, context.Source, Utf8.Decode(msg), context.ReceivedAt) { Timestamp = timestamp };
        if (pri >= 0)
        {
            SyslogPriority.Apply(e, pri);
        }

        e.Attributes.Set(SemanticNames.SyslogTimestampRaw, raw);
        return e;
    }

    /// <summary>Parses <c>Mmm dd hh:mm:ss </c> (day padded with a space, or one digit); returns the index after the trailing space or -1.</summary>
    private int TryParseBsdTime(ReadOnlySpan<byte> s, int p, DateTimeOffset receivedAt, out DateTimeOffset value)
    {
        value = default;
        if (p + 4 > s.Length || s[p + 3] != ' ')
        {
            return -1;
        }

        var month = Utf8.Month(s.Slice(p, 3));
        if (month == 0)
        {
            return -1;
        }

        p += 4;
        if (p < s.Length && s[p] == ' ')
        {
            p++;
        }

        var dayStart = p;
        while (p < s.Length && Utf8.IsDigit(s[p]) && p - dayStart < 2)
        {
            p++;
        }

        var day = Utf8.Fixed(s, dayStart, p - dayStart);
        if (p == dayStart || p + 10 > s.Length || s[p] != ' ' || s[p + 3] != ':' || s[p + 6] != ':' || s[p + 9] != ' ')
        {
            return -1;
        }

        var hour = Utf8.Fixed(s, p + 1, 2);
        var minute = Utf8.Fixed(s, p + 4, 2);
        var second = Utf8.Fixed(s, p + 7, 2);
        if (hour < 0 || minute < 0 || second < 0 || !TryResolveYear(month, day, hour, minute, second, receivedAt, out value))
        {
            return -1;
        }

        return p + 10;
    }

    private bool TryResolveYear(int month, int day, int hour, int minute, int second, DateTimeOffset receivedAt, out DateTimeOffset value)
    {
        var year = TimeZoneInfo.ConvertTime(receivedAt, zone).Year;
        if (!TryAt(year, month, day, hour, minute, second, out value) || value > receivedAt.AddDays(1))
        {
            // 29 February may exist only in the year before; a line dated after tomorrow was written last year.
            return TryAt(year - 1, month, day, hour, minute, second, out value);
        }

        return true;
    }

    private bool TryAt(int year, int month, int day, int hour, int minute, int second, out DateTimeOffset value)
    {
        value = default;
        if (year < 1 || month < 1 || day < 1 || day > DateTime.DaysInMonth(year, month) || hour > 23 || minute > 59 || second > 59)
        {
            return false;
        }

        var local = new DateTime(year, month, day, hour, minute, second, DateTimeKind.Unspecified);
        var offset = (int)zone.GetUtcOffset(local).TotalMinutes;
        return Utf8.TryCreate(year, month, day, hour, minute, second, 0, offset, out value);
    }
}
