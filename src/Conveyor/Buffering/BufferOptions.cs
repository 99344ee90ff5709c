namespace Conveyor;

/// <summary>Settings of a <see cref="BoundedBuffer{T}"/>. Validated by <see cref="Validate"/> when the buffer is built.</summary>
/// <typeparam name="T">The item type.</typeparam>
public sealed class BufferOptions<T>
{
    /// <summary>The most items the buffer holds at once. Default 1024; must be at least 1.</summary>
    public int Capacity { get; set; } = 1024;

    /// <summary>
    /// The most bytes (as <see cref="SizeOf"/> measures them) the buffer holds at once. Default <c>null</c>: no byte
    /// bound. When set, <see cref="SizeOf"/> is required.
    /// </summary>
    public long? MaxBytes { get; set; }

    /// <summary>
    /// The size of one item in bytes, used for the byte bound and for <c>maxBytes</c> in batch reads. Called once per
    /// item on write, outside any lock. Default <c>null</c>: every item counts as 0 bytes.
    /// </summary>
    public Func<T, long>? SizeOf { get; set; }

    /// <summary>What to do with a write that does not fit. Default <see cref="FullMode.Block"/>.</summary>
    public FullMode FullMode { get; set; } = FullMode.Block;

    /// <summary>
    /// Under <see cref="FullMode.Block"/>, how long <c>WriteAsync</c> waits for room before it gives up, counts
    /// the item as <see cref="DropReason.BlockTimeout"/> and returns false. Default <c>null</c>: wait until room,
    /// cancellation or completion.
    /// </summary>
    public TimeSpan? BlockTimeout { get; set; }

    /// <summary>
    /// Called for every item the buffer drops, with the reason. Runs outside the buffer's lock, on the thread
    /// whose operation caused the drop, so it may call back into the buffer; it should be quick. Default none.
    /// </summary>
    public Action<T, DropReason>? OnDropped { get; set; }

    /// <summary>The name used as the <c>buffer</c> tag of this buffer's metrics. Default <c>"buffer"</c>.</summary>
    public string Name { get; set; } = "buffer";

    /// <summary>The clock for timeouts, blocked time and item age. Default <see cref="TimeProvider.System"/>.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first setting that is invalid.</summary>
    public void Validate()
    {
        if (Capacity < 1)
        {
            throw new ArgumentException($"{nameof(Capacity)} must be at least 1 (was {Capacity}).", nameof(Capacity));
        }

        if (MaxBytes is < 1)
        {
            throw new ArgumentException($"{nameof(MaxBytes)} must be at least 1 when set (was {MaxBytes}).", nameof(MaxBytes));
        }

        if (MaxBytes is not null && SizeOf is null)
        {
            throw new ArgumentException($"{nameof(SizeOf)} is required when {nameof(MaxBytes)} is set.", nameof(SizeOf));
        }

        if (BlockTimeout is { } t && t <= TimeSpan.Zero && t != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentException($"{nameof(BlockTimeout)} must be positive when set (was {t}).", nameof(BlockTimeout));
        }

        if (!Enum.IsDefined(FullMode))
        {
            throw new ArgumentException($"{nameof(FullMode)} {(int)FullMode} is not a defined mode.", nameof(FullMode));
        }

        if (string.IsNullOrWhiteSpace(Name))
        {
            throw new ArgumentException($"{nameof(Name)} must not be empty.", nameof(Name));
        }

        ArgumentNullException.ThrowIfNull(TimeProvider, nameof(TimeProvider));
    }
}
