using Conveyor.Logs.Diagnostics;

namespace Conveyor.Cli.Hosting;

/// <summary>Logs the shutdown report: what came in, and where every record went.</summary>
internal static partial class ShutdownLog
{
    public static void Write(ILogger logger, ShutdownReport r)
    {
        LogSummary(logger, r.Received, r.Admitted, r.Refused, r.DroppedAtSources, r.DroppedAtMain, r.ParsedEvents, r.ParseDeadLetters, r.Left, r.Completed ? "drained" : "deadline passed", r.Took.TotalSeconds);
        foreach (var s in r.Sinks)
        {
            LogSink(logger, s.Name, s.Mode, s.StoredEvents, s.StoredDeadLetters, s.Rejected, s.DroppedAtQueue, s.Failed, s.Queued + s.InFlight);
        }
    }

    [LoggerMessage(EventId = 110, Level = LogLevel.Information,
        Message = "Shutdown report: received {Received}, admitted {Admitted}, refused to senders {Refused}, dropped at sources {DroppedSources}, evicted from main buffer {DroppedMain}, parsed {Parsed}, dead letters {DeadLetters}, left at deadline {Left} ({State} in {Seconds:0.0} s)")]
    private static partial void LogSummary(ILogger logger, long received, long admitted, long refused, long droppedSources, long droppedMain, long parsed, long deadLetters, long left, string state, double seconds);

    [LoggerMessage(EventId = 111, Level = LogLevel.Information,
        Message = "Shutdown report: sink {Sink} ({Mode}): stored {Stored} events and {DeadLetters} dead letters, rejected {Rejected}, dropped at queue {Dropped}, failed {Failed}, not written {NotWritten}")]
    private static partial void LogSink(ILogger logger, string sink, string mode, long stored, long deadLetters, long rejected, long dropped, long failed, long notWritten);
}
