using Conveyor.Logs.Model;

namespace Conveyor.Logs.Parsing;

/// <summary>
/// logfmt: space-separated <c>key=value</c> pairs, values bare or double-quoted (quoted values are unescaped:
/// <c>\"</c> <c>\\</c> <c>\n</c> <c>\r</c> <c>\t</c>); <c>key=</c> is an empty string and a bare <c>key</c> is <c>true</c>.
/// Values stay strings, since logfmt has no types. Known keys map to the model as for JSON; without a message key the
/// body is the raw line. A line needs at least one <c>key=value</c> pair.
/// </summary>
internal sealed class LogfmtParser(TimeZoneInfo zone) : ILogParser
{
    public string Name => "logfmt";

    public ParseOutcome Parse(ReadOnlySpan<byte> line, in LineContext context)
    {
        var reason = TryParse(line, context, out var e);
        return reason is null ? ParseOutcome.Success(e!, Name) : ParseOutcome.Failure(Name, Name + ": " + reason, line, context);
    }

    private string? TryParse(ReadOnlySpan<byte> line, in LineContext context, out LogEvent? e)
    {
        e = new LogEvent(context.Id, context.Source, string.Empty, context.ReceivedAt);
        var hasBody = false;
        var pairs = 0;
        var i = 0;
        while (true)
        {
            while (i < line.Length && line[i] == ' ')
            {
                i++;
            }

            if (i >= line.Length)
            {
                break;
            }

            var keyStart = i;
            while (i < line.Length && line[i] is not ((byte)'=' or (byte)' ' or (byte)'"'))
            {
                i++;
            }

            if (i == keyStart)
            {
                e = null;
                return "expected a key at column " + (i + 1);
            }

            // The key stays bytes until it is known to be stored: mapped keys then cost no string.
            var key = line[keyStart..i];
            if (i >= line.Length || line[i] == ' ')
            {
                e.Attributes.Set(Utf8.Decode(key), true);
                continue;
            }

            if (line[i] == '"')
            {
                e = null;
                return "unexpected '\"' in key at column " + (i + 1);
            }

            i++;
            pairs++;
            ReadOnlySpan<byte> raw;
            var quoted = i < line.Length && line[i] == '"';
            if (quoted)
            {
                var close = AccessLogParser.EndOfQuoted(line, i + 1);
                if (close < 0)
                {
                    e = null;
                    return "value of '" + Utf8.Decode(key) + "' has no closing quote (opened at column " + (i + 1) + ")";
                }

                raw = line[(i + 1)..close];
                i = close + 1;
                if (i < line.Length && line[i] != ' ')
                {
                    e = null;
                    return "expected ' ' after the closing quote at column " + (i + 1);
                }
            }
            else
            {
                var start = i;
                while (i < line.Length && line[i] != ' ')
                {
                    i++;
                }

                raw = line[start..i];
            }

            if (KnownFields.IsTimestampKey(key) && KnownFields.TrySetTimestamp(e, raw, zone))
            {
                continue;
            }

            var value = quoted && raw.IndexOf((byte)'\\') >= 0 ? Utf8.Unescape(Utf8.Decode(raw)) : Utf8.Decode(raw);
            if (KnownFields.IsSeverityKey(key) && KnownFields.TrySetSeverity(e, value))
            {
                continue;
            }

            if (KnownFields.IsMessageKey(key) && !hasBody)
            {
                e.Body = value;
                hasBody = true;
                continue;
            }

            e.Attributes.Set(Utf8.Decode(key), value);
        }

        if (pairs == 0)
        {
            e = null;
            return "expected at least one key=value pair";
        }

        if (!hasBody)
        {
            e.Body = Utf8.Decode(line);
        }

        return null;
    }
}
