namespace Conveyor.Logs.Model;

/// <summary>OpenTelemetry severity numbers (1–24) and their short names.</summary>
public static class Severity
{
    public const int Unspecified = 0;
    public const int Trace = 1;
    public const int Debug = 5;
    public const int Info = 9;
    public const int Warn = 13;
    public const int Error = 17;
    public const int Fatal = 21;

    /// <summary>The short name of a severity number's range (<c>TRACE</c> … <c>FATAL</c>); null for 0.</summary>
    public static string? TextOf(int number) => number switch
    {
        >= 1 and <= 4 => "TRACE",
        >= 5 and <= 8 => "DEBUG",
        >= 9 and <= 12 => "INFO",
        >= 13 and <= 16 => "WARN",
        >= 17 and <= 20 => "ERROR",
        >= 21 and <= 24 => "FATAL",
        _ => null,
    };
}
