
namespace Conveyor.Logs.Model;

/// <summary>What the parse workers hand to the sinks: an event, or a dead letter to store beside the events.</summary>
public sealed class PipelineRecord
{
    private PipelineRecord(LogEvent? logEvent, DeadLetter? deadLetter, long size)
    {
        Event = logEvent;
        DeadLetter = deadLetter;
        Size = size;
    }

    /// <summary>The event; null for a dead letter.</summary>
    public LogEvent? Event { get; }

    /// <summary>The dead letter; null for an event.</summary>
    public DeadLetter? DeadLetter { get; }

    /// <summary>Estimated memory of the record, charged against sink queues' byte bounds.</summary>
    public long Size { get; }

    /// <summary>Wraps an event whose raw line had <paramref name="rawBytes"/> bytes.</summary>
    public static PipelineRecord ForEvent(LogEvent e, int rawBytes) =>
        new(e, null, EventOverhead + (2L * rawBytes) + (e.Attributes.Count * AttributeOverhead));

    /// <summary>Wraps a dead letter.</summary>
    public static PipelineRecord ForDeadLetter(DeadLetter d) => new(null, d, EventOverhead + (2L * (d.RawLine.Length + d.Reason.Length)));

    // Strings are UTF-16 (2 bytes a char) and an event holds the body plus attribute values drawn from it, each
    // attribute a list entry, often a boxed number and a string. The constants are rounded up from a heap dump of
    // enriched access-log events, so the byte bound errs on the safe side.
    private const int EventOverhead = 512;
    private const int AttributeOverhead = 96;
}
