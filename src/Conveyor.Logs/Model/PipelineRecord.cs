namespace Conveyor.Logs.Model;

/// <summary>What the parse workers hand to the sinks: an event, or a dead letter to store beside the events.</summary>
/// <remarks>
/// A record carries its raw line's acknowledgement reference, one per sink it was handed to (the parse worker adds
/// the extra ones). Each sink lane completes its own reference through <see cref="Complete"/>, which is idempotent per
/// lane: the paths that may see the same record twice (a write cancelled at the drain deadline, then the queue's
/// left-overs) cannot complete a reference twice or complete another lane's.
/// </remarks>
public sealed class PipelineRecord
{
    /// <summary>The most sinks one topology may have: one bit per lane records which lanes completed.</summary>
    public const int MaxLanes = 64;

    private long _lanesDone;

    private PipelineRecord(LogEvent? logEvent, DeadLetter? deadLetter, long size, Acknowledgement? ack)
    {
        Event = logEvent;
        DeadLetter = deadLetter;
        Size = size;
        Ack = ack;
    }

    /// <summary>The event; null for a dead letter.</summary>
    public LogEvent? Event { get; }

    /// <summary>The dead letter; null for an event.</summary>
    public DeadLetter? DeadLetter { get; }

    /// <summary>Estimated memory of the record, charged against sink queues' byte bounds.</summary>
    public long Size { get; }

    /// <summary>The acknowledgement of the unit the record came in; null when its source wants none.</summary>
    public Acknowledgement? Ack { get; }

    /// <summary>Wraps an event whose raw line had <paramref name="rawBytes"/> bytes.</summary>
    public static PipelineRecord ForEvent(LogEvent e, int rawBytes, Acknowledgement? ack = null) =>
        new(e, null, EventOverhead + (2L * rawBytes) + (e.Attributes.Count * AttributeOverhead), ack);

    /// <summary>Wraps a dead letter.</summary>
    public static PipelineRecord ForDeadLetter(DeadLetter d, Acknowledgement? ack = null) =>
        new(null, d, EventOverhead + (2L * (d.RawLine.Length + d.Reason.Length)), ack);

    /// <summary>
    /// Completes lane <paramref name="lane"/>'s reference with <paramref name="outcome"/>, once: later calls for the
    /// same lane do nothing and return false.
    /// </summary>
    public bool Complete(int lane, DeliveryOutcome outcome)
    {
        if (Ack is not { } ack)
        {
            return false;
        }

        var bit = 1L << lane;
        if ((Interlocked.Or(ref _lanesDone, bit) & bit) != 0)
        {
            return false;
        }

        ack.Complete(outcome);
        return true;
    }

    // Strings are UTF-16 (2 bytes a char) and an event holds the body plus attribute values drawn from it, each
    // attribute a list entry, often a boxed number and a string. The constants are rounded up from a heap dump of
    // enriched access-log events, so the byte bound errs on the safe side.
    private const int EventOverhead = 512;
    private const int AttributeOverhead = 96;
}
