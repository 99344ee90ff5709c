namespace Conveyor;

/// <summary>
/// A consistent snapshot of a buffer's counters, taken under its lock, so that
/// <c>Written = Read + Depth + DroppedOldest</c> holds exactly in every snapshot.
/// </summary>
public readonly record struct BufferStatistics
{
    /// <summary>Items accepted into the buffer.</summary>
    public long Written { get; init; }

    /// <summary>Items handed to readers.</summary>
    public long Read { get; init; }

    /// <summary>Items queued now.</summary>
    public int Depth { get; init; }

    /// <summary>Bytes queued now.</summary>
    public long Bytes { get; init; }

    /// <summary>The count bound.</summary>
    public int Capacity { get; init; }

    /// <summary>The byte bound, or null when there is none.</summary>
    public long? MaxBytes { get; init; }

    /// <summary>Incoming items dropped under <see cref="FullMode.DropNewest"/>.</summary>
    public long DroppedNewest { get; init; }

    /// <summary>Queued items evicted under <see cref="FullMode.DropOldest"/>.</summary>
    public long DroppedOldest { get; init; }

    /// <summary>Items refused under <see cref="FullMode.Reject"/>.</summary>
    public long Rejected { get; init; }

    /// <summary>Items given up after <see cref="BufferOptions{T}.BlockTimeout"/>.</summary>
    public long BlockTimedOut { get; init; }

    /// <summary>Items larger than the whole buffer.</summary>
    public long TooLarge { get; init; }

    /// <summary>Total time writers spent waiting for room.</summary>
    public TimeSpan BlockedTime { get; init; }

    /// <summary>Writers waiting for room now.</summary>
    public int BlockedWriters { get; init; }

    /// <summary>Readers waiting for items now.</summary>
    public int WaitingReaders { get; init; }

    /// <summary>How long the oldest queued item has waited; zero when empty.</summary>
    public TimeSpan OldestItemAge { get; init; }

    /// <summary>True once writing is complete.</summary>
    public bool IsWriterCompleted { get; init; }

    /// <summary>All items that were offered and not accepted, or accepted and then evicted.</summary>
    public long Dropped => DroppedNewest + DroppedOldest + Rejected + BlockTimedOut + TooLarge;

    /// <summary>The count of drops for one reason.</summary>
    public long DroppedBy(DropReason reason) => reason switch
    {
        DropReason.DropNewest => DroppedNewest,
        DropReason.DropOldest => DroppedOldest,
        DropReason.Rejected => Rejected,
        DropReason.BlockTimeout => BlockTimedOut,
        DropReason.TooLarge => TooLarge,
        _ => 0,
    };
}

/// <summary>Anything that reports <see cref="BufferStatistics"/> under a name.</summary>
public interface IBufferStatisticsSource
{
    /// <summary>The name used as the <c>buffer</c> tag.</summary>
    string Name { get; }

    /// <summary>A consistent snapshot of the counters.</summary>
    BufferStatistics GetStatistics();
}
