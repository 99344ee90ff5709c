using Conveyor.Logs.Model;

namespace Conveyor.Logs.Parsing;

/// <summary>
/// The keys JSON and logfmt records share with the event model (docs/REFERENCE.md, "JSON lines"):
/// <list type="bullet">
/// <item>time: <c>timestamp</c>, <c>time</c>, <c>ts</c>, <c>@timestamp</c> (ECS, Logstash), <c>@t</c> (Serilog's compact
/// format), <c>Timestamp</c> (.NET's JSON console formatter, Serilog's JSON formatter);</item>
/// <item>severity: <c>level</c>, <c>severity</c>, <c>log.level</c> (ECS), <c>@l</c> (Serilog compact), <c>Level</c>
/// (Serilog JSON), <c>LogLevel</c> (.NET JSON console);</item>
/// <item>message: <c>message</c>, <c>msg</c>, <c>@m</c> and <c>@mt</c> (Serilog compact: rendered message, template),
/// <c>Message</c> (.NET JSON console).</item>
/// </list>
/// The first usable value of each wins; a value that does not fit (a time of day, a non-string message) stays an
/// ordinary attribute.
/// </summary>
internal static class KnownFields
{
    public static bool IsTimestampKey(string key) => key is "timestamp" or "time" or "ts" or "@timestamp" or "@t" or "Timestamp";

    public static bool IsSeverityKey(string key) => key is "level" or "severity" or "log.level" or "@l" or "Level" or "LogLevel";

    public static bool IsMessageKey(string key) => key is "message" or "msg" or "@m" or "@mt" or "Message";

    public static bool IsTimestampKey(ReadOnlySpan<byte> key) =>
        key.SequenceEqual("timestamp"u8) || key.SequenceEqual("time"u8) || key.SequenceEqual("ts"u8) || key.SequenceEqual("@timestamp"u8)
        || key.SequenceEqual("@t"u8) || key.SequenceEqual("Timestamp"u8);

    public static bool IsSeverityKey(ReadOnlySpan<byte> key) =>
        key.SequenceEqual("level"u8) || key.SequenceEqual("severity"u8) || key.SequenceEqual("log.level"u8) || key.SequenceEqual("@l"u8)
        || key.SequenceEqual("Level"u8) || key.SequenceEqual("LogLevel"u8);

    public static bool IsMessageKey(ReadOnlySpan<byte> key) =>
        key.SequenceEqual("message"u8) || key.SequenceEqual("msg"u8) || key.SequenceEqual("@m"u8) || key.SequenceEqual("@mt"u8)
        || key.SequenceEqual("Message"u8);

    /// <summary>OTel severity number of a level name (case-insensitive); 0 when unknown.</summary>
    public static int SeverityOf(string text) => SeverityOf(text.AsSpan());

    /// <summary>OTel severity number of a level name (case-insensitive); 0 when unknown.</summary>
    public static int SeverityOf(ReadOnlySpan<char> text)
    {
        Span<char> lower = stackalloc char[16];
        if (text.Length > lower.Length)
        {
            return Severity.Unspecified;
        }

        var n = text.ToLowerInvariant(lower);
        return lower[..n] switch
        {
            "trace" or "verbose" => Severity.Trace,
            "debug" or "dbg" => Severity.Debug,
            "info" or "information" or "informational" => Severity.Info,
            "notice" => Severity.Info + 1,
            "warn" or "warning" => Severity.Warn,
            "error" or "err" or "eror" => Severity.Error,
            "crit" or "critical" => Severity.Fatal,
            "fatal" or "panic" or "alert" or "emerg" or "emergency" => Severity.Fatal,
            _ => Severity.Unspecified,
        };
    }

    /// <summary>bunyan/pino numeric levels: 10 trace, 20 debug, 30 info, 40 warn, 50 error, 60 fatal; 0 otherwise.</summary>
    public static int SeverityOf(long level) => level switch
    {
        10 => Severity.Trace,
        20 => Severity.Debug,
        30 => Severity.Info,
        40 => Severity.Warn,
        50 => Severity.Error,
        60 => Severity.Fatal,
        _ => Severity.Unspecified,
    };

    /// <summary>Applies a string level; false when the event already has one.</summary>
    public static bool TrySetSeverity(LogEvent e, string text)
    {
        if (e.SeverityText is not null)
        {
            return false;
        }

        e.SeverityText = text;
        e.SeverityNumber = SeverityOf(text);
        return true;
    }

    /// <summary>Applies a numeric level; false when the event already has one or the number is not a known level.</summary>
    public static bool TrySetSeverity(LogEvent e, long level)
    {
        var number = SeverityOf(level);
        if (e.SeverityText is not null || number == Severity.Unspecified)
        {
            return false;
        }

        e.SeverityNumber = number;
        e.SeverityText = Severity.TextOf(number);
        return true;
    }

    /// <summary>Applies a timestamp written as text or as a JSON number; false when absent-able or already set.</summary>
    public static bool TrySetTimestamp(LogEvent e, ReadOnlySpan<byte> raw, TimeZoneInfo zone)
    {
        if (e.Timestamp is not null || !Timestamps.TryParse(raw, zone, out var ts))
        {
            return false;
        }

        e.Timestamp = ts;
        return true;
    }
}
