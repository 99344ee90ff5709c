using Conveyor.Logs.Model;

namespace Conveyor.Logs.Sinks;

/// <summary>
/// A batch of events as <see cref="ILogSink.PrepareBatchAsync"/> made it ready for <see cref="ILogSink.WritePreparedAsync"/>:
/// a sink that prepares subclasses it with what its write consumes.
/// </summary>
/// <param name="events">The events, in the order they are to be stored.</param>
public class PreparedBatch(IReadOnlyList<LogEvent> events)
{
    /// <summary>The events, in the order they are to be stored.</summary>
    public IReadOnlyList<LogEvent> Events { get; } = events ?? throw new ArgumentNullException(nameof(events));
}
