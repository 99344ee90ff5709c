namespace Conveyor.Logs.Parsing;

/// <summary>
/// The timestamp forms docs/REFERENCE.md ("JSON lines") accepts in JSON, logfmt and file-format syslog: ISO-8601/RFC 3339, <c>YYYY-MM-DD HH:MM:SS[.fff]</c>,
/// and epoch seconds, milliseconds, microseconds or nanoseconds told apart by magnitude.
/// </summary>
internal static class Timestamps
{
    // Magnitude bounds: below 1e11 seconds reach the year 5138, so a larger number must be a finer unit.
    private const decimal SecondsBelow = 100_000_000_000m;
    private const decimal MillisBelow = 100_000_000_000_000m;
    private const decimal MicrosBelow = 100_000_000_000_000_000m;

    /// <summary>A date-time, or a number of epoch units written as digits with an optional fraction.</summary>
    public static bool TryParse(ReadOnlySpan<byte> s, TimeZoneInfo naiveZone, out DateTimeOffset value) =>
        TryParseIso(s, naiveZone, out value) || TryParseEpoch(s, out value);

    /// <summary>
    /// <c>YYYY-MM-DD(T| )hh:mm:ss[(.|,)f{1,9}][Z|±hh:mm|±hhmm|±hh]</c>, the whole span; a value without a zone is read in
    /// <paramref name="naiveZone"/>.
    /// </summary>
    public static bool TryParseIso(ReadOnlySpan<byte> s, TimeZoneInfo naiveZone, out DateTimeOffset value)
    {
        value = default;
        if (s.Length < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') || s[13] != ':' || s[16] != ':')
        {
            return false;
        }

        var year = Utf8.Fixed(s, 0, 4);
        var month = Utf8.Fixed(s, 5, 2);
        var day = Utf8.Fixed(s, 8, 2);
        var hour = Utf8.Fixed(s, 11, 2);
        var minute = Utf8.Fixed(s, 14, 2);
        var second = Utf8.Fixed(s, 17, 2);
        if (year < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0)
        {
            return false;
        }

        var i = 19;
        long fraction = 0;
        if (i < s.Length && (s[i] == '.' || s[i] == ','))
        {
            var digits = 0;
            i++;
            while (i < s.Length && Utf8.IsDigit(s[i]))
            {
                // Ticks are 100 ns: the first seven digits count, the rest are below resolution.
                if (digits < 7)
                {
                    fraction = (fraction * 10) + (s[i] - '0');
                }

                digits++;
                i++;
            }

            if (digits is 0 or > 9)
            {
                return false;
            }

            for (var d = digits; d < 7; d++)
            {
                fraction *= 10;
            }
        }

        if (!TryParseZone(s[i..], out var offsetMinutes, out var hasZone))
        {
            return false;
        }

        if (!hasZone)
        {
            if (!Utf8.TryCreate(year, month, day, hour, minute, second, fraction, 0, out var naive))
            {
                return false;
            }

            offsetMinutes = (int)naiveZone.GetUtcOffset(naive.DateTime).TotalMinutes;
        }

        return Utf8.TryCreate(year, month, day, hour, minute, second, fraction, offsetMinutes, out value);
    }

    /// <summary><c>Z</c>, <c>±hh:mm</c>, <c>±hhmm</c>, <c>±hh</c>, or nothing.</summary>
    private static bool TryParseZone(ReadOnlySpan<byte> z, out int minutes, out bool hasZone)
    {
        minutes = 0;
        hasZone = !z.IsEmpty;
        if (z.IsEmpty)
        {
            return true;
        }

        if (z.Length == 1 && (z[0] == 'Z' || z[0] == 'z'))
        {
            return true;
        }

        if (z[0] != '+' && z[0] != '-')
        {
            return false;
        }

        var sign = z[0] == '-' ? -1 : 1;
        var h = Utf8.Fixed(z, 1, 2);
        var m = z.Length switch
        {
            3 => 0,
            5 => Utf8.Fixed(z, 3, 2),
            6 when z[3] == ':' => Utf8.Fixed(z, 4, 2),
            _ => -1,
        };
        if (h < 0 || m < 0 || h > 23 || m > 59)
        {
            return false;
        }

        minutes = sign * ((h * 60) + m);
        return true;
    }

    /// <summary>Digits with an optional <c>.</c> fraction, read as s, ms, µs or ns by magnitude; UTC.</summary>
    public static bool TryParseEpoch(ReadOnlySpan<byte> s, out DateTimeOffset value)
    {
        value = default;
        var dot = s.IndexOf((byte)'.');
        var intPart = dot < 0 ? s : s[..dot];
        var fracPart = dot < 0 ? [] : s[(dot + 1)..];
        if (intPart.IsEmpty || intPart.Length > 20 || (dot >= 0 && fracPart.IsEmpty) || fracPart.Length > 20)
        {
            return false;
        }

        decimal number = 0;
        foreach (var b in intPart)
        {
            if (!Utf8.IsDigit(b))
            {
                return false;
            }

            number = (number * 10) + (b - '0');
        }

        decimal scale = 1;
        foreach (var b in fracPart)
        {
            if (!Utf8.IsDigit(b))
            {
                return false;
            }

            scale /= 10;
            number += (b - '0') * scale;
        }

        return TryFromEpoch(number, out value);
    }

    /// <summary>An epoch number of s, ms, µs or ns (by magnitude) as a UTC instant.</summary>
    public static bool TryFromEpoch(decimal number, out DateTimeOffset value)
    {
        value = default;
        if (number < 0)
        {
            return false;
        }

        var ticksPerUnit = number < SecondsBelow ? TimeSpan.TicksPerSecond
            : number < MillisBelow ? TimeSpan.TicksPerMillisecond
            : number < MicrosBelow ? 10m
            : 0.01m;
        var ticks = decimal.Floor(number * ticksPerUnit);
        if (ticks > DateTimeOffset.MaxValue.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks)
        {
            return false;
        }

        value = DateTimeOffset.UnixEpoch.AddTicks((long)ticks);
        return true;
    }
}
