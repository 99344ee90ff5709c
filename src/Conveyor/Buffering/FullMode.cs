namespace Conveyor;

/// <summary>What a <see cref="BoundedBuffer{T}"/> does with a write that does not fit.</summary>
public enum FullMode
{
    /// <summary>
    /// The default: <c>WriteAsync</c> waits for room (cancellable, with an optional timeout); <c>TryWrite</c>
    /// returns false and the caller keeps the item. Nothing is dropped except on timeout.
    /// </summary>
    Block,

    /// <summary>The incoming item is dropped, counted as <see cref="DropReason.DropNewest"/> and reported.</summary>
    DropNewest,

    /// <summary>The oldest queued items are evicted until the incoming one fits; each is counted as <see cref="DropReason.DropOldest"/> and reported.</summary>
    DropOldest,

    /// <summary>The write is refused at once: the caller gets <c>false</c>, and it is counted as <see cref="DropReason.Rejected"/>.</summary>
    Reject,
}

/// <summary>Why an item did not reach (or did not stay in) a buffer. Every drop is counted under one reason.</summary>
public enum DropReason
{
    /// <summary>Full under <see cref="FullMode.DropNewest"/>: the incoming item was dropped.</summary>
    DropNewest,

    /// <summary>Full under <see cref="FullMode.DropOldest"/>: a queued item was evicted to make room.</summary>
    DropOldest,

    /// <summary>Full under <see cref="FullMode.Reject"/>: the caller was refused at once.</summary>
    Rejected,

    /// <summary>Full under <see cref="FullMode.Block"/> for longer than <see cref="BufferOptions{T}.BlockTimeout"/>.</summary>
    BlockTimeout,

    /// <summary>The item (or all-or-nothing batch) is larger than the buffer's whole count or byte capacity, so it can never fit.</summary>
    TooLarge,
}
