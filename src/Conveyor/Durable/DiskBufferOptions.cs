namespace Conveyor.Durable;

/// <summary>Settings of a <see cref="DiskBuffer"/>. Validated by <see cref="Validate"/> when the buffer is opened.</summary>
public sealed class DiskBufferOptions
{
    /// <summary>The default for <see cref="MaxDiskBytes"/>: 1 GiB.</summary>
    public const long DefaultMaxDiskBytes = 1L << 30;

    /// <summary>The default for <see cref="SegmentBytes"/>: 64 MiB.</summary>
    public const long DefaultSegmentBytes = 64L << 20;

    /// <summary>The directory holding the segment files; created when missing. Required.</summary>
    public string Directory { get; set; } = "";

    /// <summary>
    /// The most bytes the segment files may take together (records, headers, and acknowledged records whose segment
    /// is not yet deleted). Default 1 GiB; must be at least 64 KiB.
    /// </summary>
    public long MaxDiskBytes { get; set; } = DefaultMaxDiskBytes;

    /// <summary>The most records held (written and not yet acknowledged). Default <c>null</c>: bounded by bytes only.</summary>
    public int? MaxRecords { get; set; }

    /// <summary>
    /// The size at which a segment file is closed and a new one started. Default 64 MiB; the buffer uses at most an
    /// eighth of <see cref="MaxDiskBytes"/> (but at least 64 KiB), so a small buffer still has several segments to
    /// free. A record (with its 20-byte header) must fit in one segment.
    /// </summary>
    public long SegmentBytes { get; set; } = DefaultSegmentBytes;

    /// <summary>When records are forced to stable storage. Default <see cref="FsyncPolicy.Interval"/>.</summary>
    public FsyncPolicy Fsync { get; set; } = FsyncPolicy.Interval;

    /// <summary>
    /// The fsync period under <see cref="FsyncPolicy.Interval"/>, and the most time between two checkpoints (the
    /// file recording which records were acknowledged) under every policy. Default 100 ms.
    /// </summary>
    public TimeSpan FsyncInterval { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// What to do with a write that does not fit. Default <see cref="FullMode.Block"/>. A disk that reports no space
    /// counts as full until a write succeeds again. Under <see cref="FullMode.DropOldest"/> the oldest unread records
    /// are evicted, but space returns a segment at a time and records being processed cannot be evicted: when
    /// eviction cannot make room, the incoming write is dropped as <see cref="DropReason.DropNewest"/>.
    /// </summary>
    public FullMode FullMode { get; set; } = FullMode.Block;

    /// <summary>
    /// Under <see cref="FullMode.Block"/>, how long a write waits for room before it gives up and counts its records
    /// as <see cref="DropReason.BlockTimeout"/>. Default <c>null</c>: wait until room, cancellation or completion.
    /// </summary>
    public TimeSpan? BlockTimeout { get; set; }

    /// <summary>Called outside the buffer's locks for every record dropped, with the reason. Default none.</summary>
    public Action<ReadOnlyMemory<byte>, DropReason>? OnDropped { get; set; }

    /// <summary>The name used as the <c>buffer</c> tag of this buffer's metrics. Default <c>"disk"</c>.</summary>
    public string Name { get; set; } = "disk";

    /// <summary>The clock for fsync intervals, checkpoints, block timeouts and retry delays. Default <see cref="TimeProvider.System"/>.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>The segment size in use: <see cref="SegmentBytes"/>, at most an eighth of <see cref="MaxDiskBytes"/>, at least 64 KiB.</summary>
    internal long EffectiveSegmentBytes => Math.Max(64L << 10, Math.Min(SegmentBytes, MaxDiskBytes / 8));

    /// <summary>The largest payload one record may carry.</summary>
    internal int MaxPayload => (int)Math.Min(int.MaxValue - RecordFormat.HeaderSize, EffectiveSegmentBytes - RecordFormat.HeaderSize);

    /// <summary>Throws <see cref="ArgumentException"/> naming the first setting that is invalid.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Directory))
        {
            throw new ArgumentException($"{nameof(Directory)} is required.", nameof(Directory));
        }

        if (MaxDiskBytes < 64L << 10)
        {
            throw new ArgumentException($"{nameof(MaxDiskBytes)} must be at least 65536 (was {MaxDiskBytes}).", nameof(MaxDiskBytes));
        }

        if (MaxRecords is < 1)
        {
            throw new ArgumentException($"{nameof(MaxRecords)} must be at least 1 when set (was {MaxRecords}).", nameof(MaxRecords));
        }

        if (SegmentBytes < 64L << 10)
        {
            throw new ArgumentException($"{nameof(SegmentBytes)} must be at least 65536 (was {SegmentBytes}).", nameof(SegmentBytes));
        }

        if (!Enum.IsDefined(Fsync))
        {
            throw new ArgumentException($"{nameof(Fsync)} {(int)Fsync} is not a defined policy.", nameof(Fsync));
        }

        if (FsyncInterval <= TimeSpan.Zero)
        {
            throw new ArgumentException($"{nameof(FsyncInterval)} must be positive (was {FsyncInterval}).", nameof(FsyncInterval));
        }

        if (!Enum.IsDefined(FullMode))
        {
            throw new ArgumentException($"{nameof(FullMode)} {(int)FullMode} is not a defined mode.", nameof(FullMode));
        }

        if (BlockTimeout is { } t && t <= TimeSpan.Zero && t != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentException($"{nameof(BlockTimeout)} must be positive when set (was {t}).", nameof(BlockTimeout));
        }

        if (string.IsNullOrWhiteSpace(Name))
        {
            throw new ArgumentException($"{nameof(Name)} must not be empty.", nameof(Name));
        }

        ArgumentNullException.ThrowIfNull(TimeProvider, nameof(TimeProvider));
    }
}
