using Microsoft.Extensions.Logging;

namespace Conveyor.Logs.Sources;

/// <summary>
/// One-line warnings about something that can happen at any rate: a client's fault (a bad request, a bad frame, a
/// reset, a connection closed at the limit) or a record a sink could not store. The first <see cref="Burst"/> in a
/// minute are logged one by one, the rest are counted and one summary a minute says how many there were, so a flood
/// of bad clients, or a store refusing every record, cannot flood the log. Never a stack trace: the line names what
/// happened and why; the counts are in the metrics.
/// </summary>
/// <remarks>Thread-safe. The summary timer runs only while there is something to summarise.</remarks>
public sealed partial class RateLimitedLog
{
    /// <summary>Warnings logged one by one per <see cref="Interval"/>: 10.</summary>
    public const int Burst = 10;

    /// <summary>The window of <see cref="Burst"/> and the period of the summary: 1 minute.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromMinutes(1);

    private readonly Lock _lock = new();
    private readonly ILogger _logger;
    private readonly string _source;
    private readonly string _what;
    private readonly string _component;
    private readonly LogLevel _level;
    private readonly TimeProvider _time;
    private int _logged;
    private long _suppressed;
    private ITimer? _timer;

    /// <summary>Creates the log of <paramref name="what"/> (e.g. <c>client fault</c>) at <paramref name="source"/>.</summary>
    /// <param name="component">What <paramref name="source"/> is, as the line starts: <c>Source</c> (default) or <c>Sink</c>.</param>
    /// <param name="level">The level of every line: warnings for client faults, errors for records lost.</param>
    public RateLimitedLog(ILogger logger, string source, string what, TimeProvider time, string component = "Source", LogLevel level = LogLevel.Warning)
    {
        ArgumentNullException.ThrowIfNull(logger);
        ArgumentNullException.ThrowIfNull(time);
        _logger = logger;
        _source = source;
        _what = what;
        _component = component;
        _level = level;
        _time = time;
    }

    /// <summary>Logs one line about <paramref name="remote"/> (a client's address, a record's id), or counts it for the summary when over the burst.</summary>
    public void Warn(string remote, string message)
    {
        lock (_lock)
        {
            // A window opens with the first warning after a quiet one; its timer ends it.
            _timer ??= _time.CreateTimer(static s => ((RateLimitedLog)s!).EndWindow(), this, Interval, Interval);
            if (_logged >= Burst)
            {
                _suppressed++;
                return;
            }

            _logged++;
        }

        LogLine(_logger, _level, _component, _source, _what, remote, message);
    }

    private void EndWindow()
    {
        long suppressed;
        lock (_lock)
        {
            suppressed = _suppressed;
            if (_logged == 0 && suppressed == 0)
            {
                // A whole window without warnings: stop the timer until the next one.
                _timer?.Dispose();
                _timer = null;
                return;
            }

            _logged = 0;
            _suppressed = 0;
        }

        if (suppressed > 0)
        {
            LogSummary(_logger, _level, _component, _source, suppressed, _what, Interval.TotalSeconds);
        }
    }

    [LoggerMessage(EventId = 1010, Message = "{Component} {Source}: {What} from {Remote}: {Reason}")]
    private static partial void LogLine(ILogger logger, LogLevel level, string component, string source, string what, string remote, string reason);

    [LoggerMessage(EventId = 1011, Message = "{Component} {Source}: {Count} more of {What} in the last {Seconds} s, not logged one by one")]
    private static partial void LogSummary(ILogger logger, LogLevel level, string component, string source, long count, string what, double seconds);
}
