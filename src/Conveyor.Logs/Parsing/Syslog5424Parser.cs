using System.Text;
using Conveyor.Logs.Model;

namespace Conveyor.Logs.Parsing;

/// <summary>
/// RFC 5424 with its strict grammar: PRI 0–191 without leading zeros, VERSION 1–999, an RFC 3339 timestamp (upper-case
/// <c>T</c> and <c>Z</c>, at most six fraction digits, real calendar dates), header fields of printable US-ASCII within
/// their maximum lengths, structured data with <c>\"</c> <c>\\</c> <c>\]</c> escapes, and a MSG kept untrimmed (only a
/// leading UTF-8 BOM is removed; a MSG that starts with the BOM must then be valid UTF-8, as the RFC requires).
/// </summary>
internal sealed class Syslog5424Parser : ILogParser
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private static ReadOnlySpan<byte> Bom => [0xEF, 0xBB, 0xBF];

    public string Name => "syslog5424";

    public ParseOutcome Parse(ReadOnlySpan<byte> line, in LineContext context)
    {
        var pos = SyslogPriority.TryParse(line, out var pri, out var reason);
        if (pos < 0)
        {
            return ParseOutcome.Failure(Name, Name + ": " + reason, line, context);
        }

        var vStart = pos;
        while (pos < line.Length && Utf8.IsDigit(line[pos]) && pos - vStart < 4)
        {
            pos++;
        }

        if (pos == vStart || pos - vStart > 3 || line[vStart] == '0')
        {
            return ParseOutcome.Failure(Name, Name + ": VERSION must be 1-999 at column " + (vStart + 1), line, context);
        }

        if (pos >= line.Length || line[pos] != ' ')
        {
            return ParseOutcome.Failure(Name, Name + ": expected ' ' after VERSION at column " + (pos + 1), line, context);
        }

        return ParseHeader(Name, line, pos + 1, pri, context);
    }

    /// <summary>Parses from TIMESTAMP on; <paramref name="pri"/> is -1 for the file layout that has no <c>&lt;PRI&gt;VERSION</c>.</summary>
    internal static ParseOutcome ParseHeader(string name, ReadOnlySpan<byte> line, int pos, int pri, in LineContext context)
    {
        var reason = TryParseHeader(line, pos, pri, context, out var e);
        return reason is null ? ParseOutcome.Success(e!, name) : ParseOutcome.Failure(name, name + ": " + reason, line, context);
    }

    private static string? TryParseHeader(ReadOnlySpan<byte> line, int pos, int pri, in LineContext context, out LogEvent? e)
    {
        e = null;
        var tsStart = pos;
        if (!NextField(line, ref pos, 64, out var ts))
        {
            return "expected TIMESTAMP at column " + (tsStart + 1);
        }

        DateTimeOffset? timestamp = null;
        if (!IsNil(ts))
        {
            if (!TryParseRfc3339(ts, out var t))
            {
                return "invalid RFC 3339 TIMESTAMP at column " + (tsStart + 1);
            }

            timestamp = t;
        }

        var hostStart = pos;
        if (!NextField(line, ref pos, 255, out var host))
        {
            return "HOSTNAME missing, too long (max 255) or not printable ASCII at column " + (hostStart + 1);
        }

        var appStart = pos;
        if (!NextField(line, ref pos, 48, out var app))
        {
            return "APP-NAME missing, too long (max 48) or not printable ASCII at column " + (appStart + 1);
        }

        var procStart = pos;
        if (!NextField(line, ref pos, 128, out var procId))
        {
            return "PROCID missing, too long (max 128) or not printable ASCII at column " + (procStart + 1);
        }

        var msgIdStart = pos;
        if (!NextField(line, ref pos, 32, out var msgId, lastHeaderField: true))
        {
            return "MSGID missing, too long (max 32) or not printable ASCII at column " + (msgIdStart + 1);
        }

        Dictionary<string, object?>? sd = null;
        if (pos < line.Length && line[pos] == '-')
        {
            pos++;
        }
        else
        {
            var sdReason = ParseStructuredData(line, ref pos, out sd);
            if (sdReason is not null)
            {
                return sdReason;
            }
        }

        string body;
        if (pos == line.Length)
        {
            body = string.Empty;
        }
        else if (line[pos] != ' ')
        {
            return "expected ' ' before MSG at column " + (pos + 1);
        }
        else
        {
            var msg = line[(pos + 1)..];
            if (msg.StartsWith(Bom))
            {
                msg = msg[3..];
                if (!TryDecodeStrict(msg, out body!))
                {
                    return "MSG starts with a BOM but is not valid UTF-8";
                }
            }
            else
            {
                body = Utf8.Decode(msg);
            }
        }

        e = new LogEvent(context.Id, context.Source, body, context.ReceivedAt) { Timestamp = timestamp };
        var a = e.Attributes;
        if (pri >= 0)
        {
            SyslogPriority.Apply(e, pri);
        }

        SetUnlessNil(a, SemanticNames.HostName, host);
        SetUnlessNil(a, SemanticNames.SyslogAppName, app);
        SetUnlessNil(a, SemanticNames.SyslogProcId, procId);
        SetUnlessNil(a, SemanticNames.SyslogMsgId, msgId);
        if (sd is not null)
        {
            a.Set(SemanticNames.SyslogStructuredData, sd);
        }

        return null;
    }

    private static bool IsNil(ReadOnlySpan<byte> s) => s.Length == 1 && s[0] == '-';

    private static void SetUnlessNil(LogAttributes a, string key, ReadOnlySpan<byte> value)
    {
        if (!IsNil(value))
        {
            a.Set(key, Utf8.Decode(value));
        }
    }

    /// <summary>A header field of 1..max printable US-ASCII bytes followed by one space (which is consumed).</summary>
    private static bool NextField(ReadOnlySpan<byte> line, ref int pos, int max, out ReadOnlySpan<byte> field, bool lastHeaderField = false)
    {
        field = default;
        var start = pos;
        while (pos < line.Length && line[pos] != ' ')
        {
            if (line[pos] < 33 || line[pos] > 126 || pos - start >= max)
            {
                return false;
            }

            pos++;
        }

        if (pos == start || pos >= line.Length)
        {
            return false;
        }

        field = line[start..pos];
        pos++;
        return !lastHeaderField || pos < line.Length;
    }

    private static string? ParseStructuredData(ReadOnlySpan<byte> line, ref int pos, out Dictionary<string, object?>? sd)
    {
        sd = null;
        if (pos >= line.Length || line[pos] != '[')
        {
            return "expected '-' or '[' for STRUCTURED-DATA at column " + (pos + 1);
        }

        sd = new Dictionary<string, object?>(StringComparer.Ordinal);
        while (pos < line.Length && line[pos] == '[')
        {
            pos++;
            var nameStart = pos;
            if (!SdName(line, ref pos))
            {
                return "invalid SD-ID at column " + (nameStart + 1);
            }

            var id = Utf8.Decode(line[nameStart..pos]);
            if (sd.ContainsKey(id))
            {
                return "SD-ID '" + id + "' occurs twice (RFC 5424 6.3.2) at column " + (nameStart + 1);
            }

            var parameters = new Dictionary<string, object?>(StringComparer.Ordinal);
            while (true)
            {
                if (pos >= line.Length)
                {
                    return "STRUCTURED-DATA element '" + id + "' has no closing ']'";
                }

                if (line[pos] == ']')
                {
                    pos++;
                    break;
                }

                if (line[pos] != ' ')
                {
                    return "expected ' ' or ']' in SD-ELEMENT at column " + (pos + 1);
                }

                pos++;
                var paramStart = pos;
                if (!SdName(line, ref pos))
                {
                    return "invalid PARAM-NAME at column " + (paramStart + 1);
                }

                var paramName = Utf8.Decode(line[paramStart..pos]);
                if (pos + 1 >= line.Length || line[pos] != '=' || line[pos + 1] != '"')
                {
                    return "expected '=\"' after PARAM-NAME at column " + (pos + 1);
                }

                pos += 2;
                var valueReason = ParamValue(line, ref pos, out var value);
                if (valueReason is not null)
                {
                    return valueReason;
                }

                parameters[paramName] = value;
            }

            sd[id] = parameters;
        }

        return null;
    }

    /// <summary>SD-NAME: 1–32 printable US-ASCII except <c>=</c>, space, <c>]</c> and <c>"</c>.</summary>
    private static bool SdName(ReadOnlySpan<byte> line, ref int pos)
    {
        var start = pos;
        while (pos < line.Length)
        {
            var b = line[pos];
            if (b is (byte)'=' or (byte)' ' or (byte)']' or (byte)'"')
            {
                break;
            }

            if (b < 33 || b > 126 || pos - start >= 32)
            {
                return false;
            }

            pos++;
        }

        return pos > start;
    }

    private static string? ParamValue(ReadOnlySpan<byte> line, ref int pos, out string? value)
    {
        value = null;
        var start = pos;
        var escapes = 0;
        while (true)
        {
            if (pos >= line.Length)
            {
                return "PARAM-VALUE has no closing quote (opened at column " + start + ")";
            }

            var b = line[pos];
            if (b == '"')
            {
                break;
            }

            if (b == ']')
            {
                return "unescaped ']' in PARAM-VALUE at column " + (pos + 1);
            }

            if (b == '\\')
            {
                // RFC 5424 would read other escapes as a literal backslash; strict receivers (go-syslog) refuse them,
                // and an ambiguous value is worth a dead letter rather than a guess.
                if (pos + 1 >= line.Length || line[pos + 1] is not ((byte)'"' or (byte)'\\' or (byte)']'))
                {
                    return "invalid escape in PARAM-VALUE at column " + (pos + 1) + " (only \\\", \\\\ and \\] are allowed)";
                }

                escapes++;
                pos++;
            }

            pos++;
        }

        var raw = line[start..pos];
        pos++;
        if (!TryDecodeStrict(raw, out var decoded))
        {
            return "PARAM-VALUE is not valid UTF-8 at column " + (start + 1);
        }

        value = escapes == 0 ? decoded : Utf8.Unescape(decoded);
        return null;
    }

    private static bool TryDecodeStrict(ReadOnlySpan<byte> bytes, out string value)
    {
        if (!System.Text.Unicode.Utf8.IsValid(bytes))
        {
            value = string.Empty;
            return false;
        }

        value = StrictUtf8.GetString(bytes);
        return true;
    }

    /// <summary>RFC 3339 as RFC 5424 restricts it: upper-case T and Z, 1–6 fraction digits, zone Z or ±hh:mm.</summary>
    internal static bool TryParseRfc3339(ReadOnlySpan<byte> s, out DateTimeOffset value)
    {
        value = default;
        if (s.Length < 20 || s[10] != 'T')
        {
            return false;
        }

        var i = 19;
        if (s[i] == '.')
        {
            var start = ++i;
            while (i < s.Length && Utf8.IsDigit(s[i]))
            {
                i++;
            }

            if (i == start || i - start > 6)
            {
                return false;
            }
        }

        var zone = s[i..];
        var zoneOk = (zone.Length == 1 && zone[0] == 'Z') || (zone.Length == 6 && zone[3] == ':');
        return zoneOk && Timestamps.TryParseIso(s, TimeZoneInfo.Utc, out value);
    }
}
