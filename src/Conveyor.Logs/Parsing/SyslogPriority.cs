using Conveyor.Logs.Model;

namespace Conveyor.Logs.Parsing;

/// <summary>
/// Maps a syslog PRI to facility, severity and an OpenTelemetry severity number.
/// </summary>
/// <remarks>
/// The mapping (syslog severity → OTel number): 0 emerg → 24 (FATAL4), 1 alert → 23 (FATAL3), 2 crit → 21 (FATAL),
/// 3 err → 17 (ERROR), 4 warning → 13 (WARN), 5 notice → 10 (INFO2), 6 info → 9 (INFO), 7 debug → 5 (DEBUG).
/// The event's severity text is the OTel short name of that number, so queries read the same across formats; the
/// syslog number itself stays in <c>syslog.severity</c>.
/// </remarks>
internal static class SyslogPriority
{
    private static readonly int[] OtelNumbers = [24, 23, 21, 17, 13, 10, 9, 5];

    public static int ToOtel(int syslogSeverity) => OtelNumbers[syslogSeverity & 7];

    /// <summary>Parses <c>&lt;PRI&gt;</c> at the start: 1–3 digits without a leading zero, 0–191.</summary>
    /// <returns>The index after '>', or -1 with <paramref name="reason"/> set.</returns>
    public static int TryParse(ReadOnlySpan<byte> line, out int pri, out string? reason)
    {
        pri = -1;
        reason = null;
        if (line.IsEmpty || line[0] != '<')
        {
            reason = "expected '<' at column 1";
            return -1;
        }

        var i = 1;
        var value = 0;
        while (i < line.Length && i <= 4 && Utf8.IsDigit(line[i]))
        {
            value = (value * 10) + (line[i] - '0');
            i++;
        }

        var digits = i - 1;
        if (digits == 0)
        {
            reason = "PRI must be 1-3 digits at column 2";
            return -1;
        }

        if (digits > 3)
        {
            reason = "PRI longer than 3 digits at column 2";
            return -1;
        }

        if (digits > 1 && line[1] == '0')
        {
            reason = "PRI has a leading zero at column 2";
            return -1;
        }

        if (i >= line.Length || line[i] != '>')
        {
            reason = "expected '>' after PRI at column " + (i + 1);
            return -1;
        }

        if (value > 191)
        {
            reason = "PRI " + value + " out of range 0-191";
            return -1;
        }

        pri = value;
        return i + 1;
    }

    public static void Apply(LogEvent e, int pri)
    {
        var severity = pri & 7;
        e.Attributes.Set(SemanticNames.SyslogFacility, (long)(pri >> 3));
        e.Attributes.Set(SemanticNames.SyslogSeverity, (long)severity);
        e.SeverityNumber = ToOtel(severity);
        e.SeverityText = Severity.TextOf(e.SeverityNumber);
    }
}
