namespace Conveyor.Durable;

/// <summary>What a <see cref="DiskBuffer"/> holds beyond the counters every buffer has (<see cref="BufferStatistics"/>).</summary>
public readonly record struct DiskBufferStatistics
{
    /// <summary>The counters shared with the memory buffer; <c>Bytes</c> is bytes on disk, <c>Depth</c> records not yet read.</summary>
    public BufferStatistics Buffer { get; init; }

    /// <summary>Records read and not yet acknowledged.</summary>
    public int InFlight { get; init; }

    /// <summary>Records on disk not yet acknowledged (unread, in flight, or waiting for their write).</summary>
    public long Unacknowledged { get; init; }

    /// <summary>Records acknowledged since the buffer was opened.</summary>
    public long Acknowledged { get; init; }

    /// <summary>Segment files (the one being written included).</summary>
    public int Segments { get; init; }

    /// <summary>Records found unacknowledged on open and replayed.</summary>
    public long Recovered { get; init; }

    /// <summary>Damaged regions skipped on open (see <see cref="DiskBuffer.Recovery"/>) and while reading.</summary>
    public int CorruptRegions { get; init; }

    /// <summary>True while the disk refuses writes (for example, no space); writers are held back until a retry succeeds.</summary>
    public bool IsDiskFaulted { get; init; }

    /// <summary>The last write error while <see cref="IsDiskFaulted"/>.</summary>
    public string? DiskError { get; init; }
}
