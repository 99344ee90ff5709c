using Conveyor.Logs.Model;

namespace Conveyor.Logs.Parsing;

/// <summary>Which access-log layout a <see cref="AccessLogParser"/> expects.</summary>
internal enum AccessLogLayout
{
    /// <summary><c>%h %l %u %t "%r" %&gt;s %b</c>; anything after bytes is kept as trailing.</summary>
    Common,

    /// <summary>Common plus <c>"%{Referer}i" "%{User-Agent}i"</c>, both required.</summary>
    Combined,

    /// <summary>Combined when a quoted referer follows the bytes, else common (used by auto-detection).</summary>
    Either,
}

/// <summary>
/// nginx/apache access logs (docs/REFERENCE.md, "Access logs"). Values are kept verbatim: inside quoted fields <c>\"</c> and <c>\\</c> only
/// keep the field from ending; nothing is un-escaped or percent-decoded.
/// </summary>
/// <remarks>
/// Before <c>ident user [time]</c> the line may carry, as seen in real logs, a virtual host (<c>%v</c>, optionally
/// <c>:port</c>) and a forwarded-for chain (quoted, or a comma-separated list). The address written immediately before
/// ident is the client (<c>$remote_addr</c>); in an unquoted list such as <c>10.0.0.2, 10.0.0.1, 127.0.0.1</c> that is
/// its last element, as <c>$proxy_add_x_forwarded_for</c> appends the peer; the rest of the chain goes to
/// <c>http.request.header.x-forwarded-for</c>. The client is kept as written and not validated as an IP
/// (<c>localhost</c>, <c>unix:</c> occur).
/// </remarks>
internal sealed class AccessLogParser(AccessLogLayout layout) : ILogParser
{
    // Referrers and user agents repeat across a server's lines: shared strings instead of a copy per line.
    private readonly RepeatedStrings _repeated = new();

    public string Name { get; } = layout == AccessLogLayout.Common ? "common" : "combined";

    public ParseOutcome Parse(ReadOnlySpan<byte> line, in LineContext context) => Parse(line, context, FindTimestampStart(line));

    /// <summary>Parses with the timestamp's '[' already located (auto-detection found it), so the line is scanned once.</summary>
    internal ParseOutcome Parse(ReadOnlySpan<byte> line, in LineContext context, int open)
    {
        var reason = TryParse(line, open, context, out var e, out var combined);
        return reason is null ? ParseOutcome.Success(e!, combined ? "combined" : "common") : ParseOutcome.Failure(Name, Name + ": " + reason, line, context);
    }

    private string? TryParse(ReadOnlySpan<byte> line, int open, in LineContext context, out LogEvent? e, out bool combined)
    {
        e = null;
        combined = false;
        if (open < 0)
        {
            return "expected ' [' before timestamp";
        }

        var prefix = line[..(open - 1)];
        var sp = prefix.LastIndexOf((byte)' ');
        if (sp < 0)
        {
            return "expected client, ident and user before '[' at column " + (open + 1);
        }

        var user = prefix[(sp + 1)..];
        prefix = prefix[..sp];
        sp = prefix.LastIndexOf((byte)' ');
        if (sp <= 0)
        {
            return "expected client, ident and user before '[' at column " + (open + 1);
        }

        var ident = prefix[(sp + 1)..];
        var addresses = prefix[..sp];

        if (!TryParseClfTime(line.Slice(open), out var timestamp))
        {
            return "invalid timestamp at column " + (open + 1) + " (expected [dd/Mon/yyyy:HH:mm:ss +hhmm])";
        }

        var pos = open + 28;
        var requestReason = QuotedField(line, ref pos, "request", out var request);
        if (requestReason is not null)
        {
            return requestReason;
        }

        if (pos >= line.Length || line[pos] != ' ')
        {
            return "expected ' ' before status at column " + (pos + 1);
        }

        // '-' is what servers and proxies write for a request that never got a response: the status is then absent.
        var statusStart = ++pos;
        var status = -1;
        if (pos < line.Length && line[pos] == '-')
        {
            pos++;
        }
        else
        {
            while (pos < line.Length && Utf8.IsDigit(line[pos]))
            {
                pos++;
            }

            if (pos == statusStart || pos - statusStart > 3)
            {
                return "expected a status code or '-' at column " + (statusStart + 1);
            }

            status = Utf8.Fixed(line, statusStart, pos - statusStart);
        }

        if (pos >= line.Length || line[pos] != ' ')
        {
            return "expected ' ' before bytes at column " + (pos + 1);
        }

        var bytesStart = ++pos;
        while (pos < line.Length && line[pos] != ' ')
        {
            pos++;
        }

        var bytesField = line[bytesStart..pos];
        long size = -1;
        if (!(bytesField.Length == 1 && bytesField[0] == '-') && !Utf8.TryParseDigits(bytesField, out size))
        {
            return "expected a byte count or '-' at column " + (bytesStart + 1);
        }

        Range referer = default;
        Range agent = default;
        combined = layout == AccessLogLayout.Combined
            || (layout == AccessLogLayout.Either && pos + 1 < line.Length && line[pos + 1] == '"');
        if (combined)
        {
            var fieldReason = QuotedField(line, ref pos, "referer", out referer) ?? QuotedField(line, ref pos, "user agent", out agent);
            if (fieldReason is not null)
            {
                return fieldReason;
            }
        }

        if (pos < line.Length && line[pos] != ' ')
        {
            return "expected ' ' or end of line at column " + (pos + 1);
        }

        e = context.EventOfLine(line);
        e.Timestamp = timestamp;
        var a = e.Attributes;
        var addressReason = SetAddresses(addresses, a);
        if (addressReason is not null)
        {
            e = null;
            return addressReason;
        }

        SetUnlessDash(a, SemanticNames.UserIdent, ident);
        SetUnlessDash(a, SemanticNames.UserName, user);
        SetRequest(a, line[request]);
        if (status >= 0)
        {
            a.Set(SemanticNames.HttpResponseStatusCode, status);
        }

        if (size >= 0)
        {
            a.Set(SemanticNames.HttpResponseBodySize, size);
        }

        if (combined)
        {
            SetUnlessDash(a, SemanticNames.HttpRequestHeaderReferer, line[referer], _repeated);
            SetUnlessDash(a, SemanticNames.UserAgentOriginal, line[agent], _repeated);
        }

        if (pos < line.Length)
        {
            a.Set(SemanticNames.LogRecordTrailing, Utf8.Decode(line[(pos + 1)..]));
        }

        return null;
    }

    /// <summary>Reads <c> "…"</c> at <paramref name="pos"/>, leaving <paramref name="pos"/> after the closing quote.</summary>
    private static string? QuotedField(ReadOnlySpan<byte> line, ref int pos, string what, out Range field)
    {
        field = default;
        if (pos + 1 >= line.Length || line[pos] != ' ' || line[pos + 1] != '"')
        {
            return "expected ' \"' before " + what + " at column " + (pos + 1);
        }

        var end = EndOfQuoted(line, pos + 2);
        if (end < 0)
        {
            return what + " has no closing quote (opened at column " + (pos + 2) + ")";
        }

        field = new Range(pos + 2, end);
        pos = end + 1;
        return null;
    }

    /// <summary>The index of the '[' of the first <c> [dd/</c>; -1 when there is none.</summary>
    internal static int FindTimestampStart(ReadOnlySpan<byte> line)
    {
        var from = 0;
        while (true)
        {
            var i = line[from..].IndexOf(" ["u8);
            if (i < 0)
            {
                return -1;
            }

            i += from + 1;
            if (i + 3 < line.Length && Utf8.IsDigit(line[i + 1]) && Utf8.IsDigit(line[i + 2]) && line[i + 3] == '/')
            {
                return i;
            }

            from = i;
        }
    }

    /// <summary>Parses <c>[dd/Mon/yyyy:HH:mm:ss +hhmm]</c> (28 bytes) at the start of <paramref name="s"/>.</summary>
    internal static bool TryParseClfTime(ReadOnlySpan<byte> s, out DateTimeOffset value)
    {
        value = default;
        if (s.Length < 28 || s[0] != '[' || s[3] != '/' || s[7] != '/' || s[12] != ':' || s[15] != ':' || s[18] != ':'
            || s[21] != ' ' || (s[22] != '+' && s[22] != '-') || s[27] != ']')
        {
            return false;
        }

        var day = Utf8.Fixed(s, 1, 2);
        var month = Utf8.Month(s.Slice(4, 3));
        var year = Utf8.Fixed(s, 8, 4);
        var hour = Utf8.Fixed(s, 13, 2);
        var minute = Utf8.Fixed(s, 16, 2);
        var second = Utf8.Fixed(s, 19, 2);
        var oh = Utf8.Fixed(s, 23, 2);
        var om = Utf8.Fixed(s, 25, 2);
        if (day < 0 || month == 0 || year < 0 || hour < 0 || minute < 0 || second < 0 || oh < 0 || om < 0 || om > 59)
        {
            return false;
        }

        var offset = ((oh * 60) + om) * (s[22] == '-' ? -1 : 1);
        return Utf8.TryCreate(year, month, day, hour, minute, second, 0, offset, out value);
    }

    /// <summary>The index of the closing quote of a field whose content starts at <paramref name="start"/>; -1 when unclosed.</summary>
    internal static int EndOfQuoted(ReadOnlySpan<byte> line, int start)
    {
        var i = start;
        while (true)
        {
            var j = line[i..].IndexOfAny((byte)'"', (byte)'\\');
            if (j < 0)
            {
                return -1;
            }

            i += j;
            if (line[i] == '"')
            {
                return i;
            }

            // A backslash escapes the next byte, whatever it is, so `\"` and `\\` never end the field.
            i += 2;
            if (i >= line.Length)
            {
                return -1;
            }
        }
    }

    private static void SetUnlessDash(LogAttributes a, string key, ReadOnlySpan<byte> value, RepeatedStrings? repeated = null)
    {
        if (value.Length == 1 && value[0] == '-')
        {
            return;
        }

        a.Set(key, repeated is null ? Utf8.Decode(value) : repeated.Decode(value));
    }

    private static void SetRequest(LogAttributes a, ReadOnlySpan<byte> request)
    {
        if (request.Length == 1 && request[0] == '-')
        {
            return;
        }

        var sp1 = request.IndexOf((byte)' ');
        if (sp1 > 0 && IsMethod(request[..sp1]))
        {
            var rest = request[(sp1 + 1)..];
            var sp2 = rest.IndexOf((byte)' ');
            if (sp2 > 0 && IsProtocol(rest[(sp2 + 1)..]))
            {
                a.Set(SemanticNames.HttpRequestMethod, Utf8.Common(request[..sp1]));
                a.Set(SemanticNames.UrlOriginal, Utf8.Decode(rest[..sp2]));
                a.Set(SemanticNames.NetworkProtocolName, "http");
                a.Set(SemanticNames.NetworkProtocolVersion, Utf8.Common(rest[(sp2 + 6)..]));
                return;
            }
        }

        a.Set(SemanticNames.UrlOriginal, Utf8.Decode(request));
    }

    private static bool IsMethod(ReadOnlySpan<byte> s)
    {
        foreach (var b in s)
        {
            if (!((b >= 'A' && b <= 'Z') || b == '-' || b == '_'))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary><c>HTTP/d</c> or <c>HTTP/d.d</c>, nothing else.</summary>
    private static bool IsProtocol(ReadOnlySpan<byte> s) =>
        s.StartsWith("HTTP/"u8) && ((s.Length == 6 && Utf8.IsDigit(s[5]))
            || (s.Length == 8 && Utf8.IsDigit(s[5]) && s[6] == '.' && Utf8.IsDigit(s[7])));

    private static string? SetAddresses(ReadOnlySpan<byte> s, LogAttributes a)
    {
        // Groups left to right: a quoted chain, or unquoted tokens where a trailing ',' joins the next token.
        Span<Range> groups = stackalloc Range[3];
        Span<bool> isChain = stackalloc bool[3];
        var n = 0;
        var i = 0;
        while (i < s.Length)
        {
            if (n == 3)
            {
                return "too many address fields before ident at column " + (i + 1);
            }

            int start;
            int end;
            if (s[i] == '"')
            {
                start = i + 1;
                var close = s[start..].IndexOf((byte)'"');
                if (close < 0)
                {
                    return "forwarded-for field has no closing quote at column " + (i + 1);
                }

                end = start + close;
                isChain[n] = true;
                i = end + 1;
            }
            else
            {
                start = i;
                while (true)
                {
                    var sp = s[i..].IndexOf((byte)' ');
                    var tokenEnd = sp < 0 ? s.Length : i + sp;
                    if (tokenEnd > start && s[tokenEnd - 1] == ',' && tokenEnd < s.Length)
                    {
                        isChain[n] = true;
                        i = tokenEnd + 1;
                        continue;
                    }

                    end = tokenEnd;
                    i = tokenEnd;
                    break;
                }
            }

            groups[n++] = new Range(start, end);
            if (i < s.Length)
            {
                if (s[i] != ' ' || i + 1 >= s.Length || s[i + 1] == ' ')
                {
                    return "expected one space between address fields at column " + (i + 1);
                }

                i++;
            }
        }

        if (n == 0 || s[groups[n - 1]].IsEmpty)
        {
            return "missing client address";
        }

        var client = s[groups[n - 1]];
        string? chain = null;
        if (isChain[n - 1])
        {
            var last = client.LastIndexOf(", "u8);
            if (last < 0)
            {
                return "client address must not be quoted";
            }

            chain = Utf8.Decode(client[..last]);
            client = client[(last + 2)..];
        }

        var vhostIndex = -1;
        if (n == 3)
        {
            if (isChain[0] || !isChain[1] || chain is not null)
            {
                return "expected [vhost] [forwarded-for] client before ident";
            }

            vhostIndex = 0;
            chain = Utf8.Decode(s[groups[1]]);
        }
        else if (n == 2)
        {
            if (isChain[0])
            {
                if (chain is not null)
                {
                    return "expected one forwarded-for chain before ident";
                }

                chain = Utf8.Decode(s[groups[0]]);
            }
            else
            {
                vhostIndex = 0;
            }
        }

        if (vhostIndex >= 0)
        {
            var vhost = s[groups[vhostIndex]];
            var colon = vhost.IndexOf((byte)':');
            if (colon > 0 && colon == vhost.LastIndexOf((byte)':') && Utf8.TryParseDigits(vhost[(colon + 1)..], out var port) && port <= 65535)
            {
                a.Set(SemanticNames.ServerAddress, Utf8.Decode(vhost[..colon]));
                a.Set(SemanticNames.ServerPort, port);
            }
            else
            {
                a.Set(SemanticNames.ServerAddress, Utf8.Decode(vhost));
            }
        }

        a.Set(SemanticNames.ClientAddress, Utf8.Decode(client));
        if (chain is not null)
        {
            a.Set(SemanticNames.HttpRequestHeaderXForwardedFor, chain);
        }

        return null;
    }
}
