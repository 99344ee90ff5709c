using System.Text;

namespace Conveyor.Logs.Parsing;

/// <summary>Byte-level helpers shared by the span parsers.</summary>
internal static class Utf8
{
    // Encoding.UTF8 substitutes U+FFFD for invalid sequences instead of throwing, which is what a parser needs.
    public static string Decode(ReadOnlySpan<byte> bytes) => bytes.IsEmpty ? string.Empty : Encoding.UTF8.GetString(bytes);

    public static bool IsDigit(byte b) => (uint)(b - '0') <= 9;

    /// <summary>Parses exactly <paramref name="s"/>.Length ASCII digits; false on anything else or overflow.</summary>
    public static bool TryParseDigits(ReadOnlySpan<byte> s, out long value)
    {
        value = 0;
        if (s.IsEmpty || s.Length > 18)
        {
            return false;
        }

        foreach (var b in s)
        {
            if (!IsDigit(b))
            {
                return false;
            }

            value = (value * 10) + (b - '0');
        }

        return true;
    }

    /// <summary>Parses a fixed-width run of digits at <paramref name="start"/>; -1 when any is not a digit or out of bounds.</summary>
    public static int Fixed(ReadOnlySpan<byte> s, int start, int count)
    {
        if (start < 0 || start + count > s.Length)
        {
            return -1;
        }

        var v = 0;
        for (var i = start; i < start + count; i++)
        {
            if (!IsDigit(s[i]))
            {
                return -1;
            }

            v = (v * 10) + (s[i] - '0');
        }

        return v;
    }

    /// <summary>The month 1–12 of an English three-letter abbreviation (case-sensitive, as logs write it); 0 otherwise.</summary>
    public static int Month(ReadOnlySpan<byte> s)
    {
        if (s.Length < 3)
        {
            return 0;
        }

        return (s[0], s[1], s[2]) switch
        {
            ((byte)'J', (byte)'a', (byte)'n') => 1,
            ((byte)'F', (byte)'e', (byte)'b') => 2,
            ((byte)'M', (byte)'a', (byte)'r') => 3,
            ((byte)'A', (byte)'p', (byte)'r') => 4,
            ((byte)'M', (byte)'a', (byte)'y') => 5,
            ((byte)'J', (byte)'u', (byte)'n') => 6,
            ((byte)'J', (byte)'u', (byte)'l') => 7,
            ((byte)'A', (byte)'u', (byte)'g') => 8,
            ((byte)'S', (byte)'e', (byte)'p') => 9,
            ((byte)'O', (byte)'c', (byte)'t') => 10,
            ((byte)'N', (byte)'o', (byte)'v') => 11,
            ((byte)'D', (byte)'e', (byte)'c') => 12,
            _ => 0,
        };
    }

    /// <summary>
    /// Builds a <see cref="DateTimeOffset"/> from checked fields; false instead of an exception when a field is out of
    /// range (31 April, hour 24, offset of a day or more, an instant outside year 1–9999). An offset beyond
    /// ±14:00, which DateTimeOffset cannot hold, yields the same instant in UTC.
    /// </summary>
    public static bool TryCreate(int year, int month, int day, int hour, int minute, int second, long fractionTicks, int offsetMinutes, out DateTimeOffset value)
    {
        value = default;
        if (year < 1 || year > 9999 || month < 1 || month > 12 || day < 1 || day > DateTime.DaysInMonth(year, month)
            || hour > 23 || minute > 59 || second > 59 || hour < 0 || minute < 0 || second < 0
            || fractionTicks < 0 || fractionTicks >= TimeSpan.TicksPerSecond || Math.Abs(offsetMinutes) >= 24 * 60)
        {
            return false;
        }

        var local = new DateTime(year, month, day, hour, minute, second, DateTimeKind.Unspecified).AddTicks(fractionTicks);
        var utcTicks = local.Ticks - (offsetMinutes * TimeSpan.TicksPerMinute);
        if (utcTicks < DateTime.MinValue.Ticks || utcTicks > DateTime.MaxValue.Ticks)
        {
            return false;
        }

        // DateTimeOffset cannot hold offsets beyond ±14:00, which RFC 3339 allows: keep the instant, in UTC.
        value = Math.Abs(offsetMinutes) > 14 * 60
            ? new DateTimeOffset(utcTicks, TimeSpan.Zero)
            : new DateTimeOffset(local, TimeSpan.FromMinutes(offsetMinutes));
        return true;
    }

    /// <summary>Removes backslash escapes: <c>\n</c> <c>\r</c> <c>\t</c> become control characters, any other escaped char itself.</summary>
    public static string Unescape(string s)
    {
        var sb = new StringBuilder(s.Length);
        for (var i = 0; i < s.Length; i++)
        {
            if (s[i] == '\\' && i + 1 < s.Length)
            {
                i++;
                sb.Append(s[i] switch
                {
                    'n' => '\n',
                    'r' => '\r',
                    't' => '\t',
                    var c => c,
                });
            }
            else
            {
                sb.Append(s[i]);
            }
        }

        return sb.ToString();
    }

    /// <summary>Strings that recur on almost every access-log line, returned shared so they cost no allocation.</summary>
    public static string Common(ReadOnlySpan<byte> s) => s.Length switch
    {
        3 when s.SequenceEqual("GET"u8) => "GET",
        3 when s.SequenceEqual("PUT"u8) => "PUT",
        3 when s.SequenceEqual("1.1"u8) => "1.1",
        3 when s.SequenceEqual("1.0"u8) => "1.0",
        3 when s.SequenceEqual("2.0"u8) => "2.0",
        1 when s[0] == '2' => "2",
        1 when s[0] == '3' => "3",
        4 when s.SequenceEqual("POST"u8) => "POST",
        4 when s.SequenceEqual("HEAD"u8) => "HEAD",
        5 when s.SequenceEqual("PATCH"u8) => "PATCH",
        6 when s.SequenceEqual("DELETE"u8) => "DELETE",
        7 when s.SequenceEqual("OPTIONS"u8) => "OPTIONS",
        _ => Decode(s),
    };
}
