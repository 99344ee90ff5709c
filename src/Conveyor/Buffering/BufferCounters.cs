namespace Conveyor;

/// <summary>
/// The counters every buffer keeps, in memory or on disk: items written and read, items dropped by reason, and the
/// time writers spent blocked. This is what <see cref="BufferStatistics"/> reports for both.
/// </summary>
/// <remarks>
/// The owning buffer changes it only under its own lock and holds it in a plain (not readonly) field, so a count
/// is one field increment in place: the memory buffer's hot path pays no indirection, allocation or interlocked
/// operation for it. What holds is the owner's to state (both state <c>Written = Read + Depth + DroppedOldest</c>).
/// Drops are counted under the lock and reported to <c>OnDropped</c> after it is released, through
/// <see cref="Report{T}(Action{T, DropReason}?, IReadOnlyList{T}?, DropReason)"/>: a drop is never reported uncounted.
/// </remarks>
internal struct BufferCounters
{
    /// <summary>Items accepted (or, on disk, recovered unacknowledged).</summary>
    public long Written;

    /// <summary>Items handed to readers.</summary>
    public long Read;

    /// <summary>Items dropped under <see cref="FullMode.DropNewest"/>.</summary>
    public long DroppedNewest;

    /// <summary>Queued items evicted under <see cref="FullMode.DropOldest"/>.</summary>
    public long DroppedOldest;

    /// <summary>Items refused under <see cref="FullMode.Reject"/>.</summary>
    public long Rejected;

    /// <summary>Items given up after the block timeout.</summary>
    public long BlockTimedOut;

    /// <summary>Items larger than the whole buffer.</summary>
    public long TooLarge;

    /// <summary>Time writers spent blocked and were admitted or gave up, in the owner's clock ticks.</summary>
    public long BlockedTicks;

    /// <summary>Counts <paramref name="count"/> items dropped for <paramref name="reason"/>; returns the reason, to report once the lock is released.</summary>
    public DropReason Drop(DropReason reason, long count)
    {
        switch (reason)
        {
            case DropReason.DropNewest:
                DroppedNewest += count;
                break;
            case DropReason.DropOldest:
                DroppedOldest += count;
                break;
            case DropReason.Rejected:
                Rejected += count;
                break;
            case DropReason.BlockTimeout:
                BlockTimedOut += count;
                break;
            case DropReason.TooLarge:
                TooLarge += count;
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(reason), reason, "Not a drop reason.");
        }

        return reason;
    }

    /// <summary>
    /// The counters as statistics, with <paramref name="blockedTime"/> (the owner adds the writers still waiting);
    /// the owner fills in what only it knows (depth, bytes, bounds, waiters) with <c>with</c>.
    /// </summary>
    public readonly BufferStatistics ToStatistics(TimeSpan blockedTime) => new()
    {
        Written = Written,
        Read = Read,
        DroppedNewest = DroppedNewest,
        DroppedOldest = DroppedOldest,
        Rejected = Rejected,
        BlockTimedOut = BlockTimedOut,
        TooLarge = TooLarge,
        BlockedTime = blockedTime,
    };

    /// <summary>Reports each of <paramref name="items"/> (none when null) to <paramref name="onDropped"/>; outside the owner's lock.</summary>
    public static void Report<T>(Action<T, DropReason>? onDropped, IReadOnlyList<T>? items, DropReason reason)
    {
        if (items is null || onDropped is null)
        {
            return;
        }

        for (var i = 0; i < items.Count; i++)
        {
            onDropped(items[i], reason);
        }
    }

    /// <summary>Reports each of <paramref name="items"/> to <paramref name="onDropped"/>; outside the owner's lock.</summary>
    public static void Report<T>(Action<T, DropReason>? onDropped, ReadOnlySpan<T> items, DropReason reason)
    {
        if (onDropped is null)
        {
            return;
        }

        foreach (var item in items)
        {
            onDropped(item, reason);
        }
    }

    /// <summary>
    /// Completes a buffer's <c>Completion</c> the way the error given to <c>Complete</c> asks: success without one,
    /// canceled for a cancellation, faulted otherwise.
    /// </summary>
    public static void SignalCompletion(TaskCompletionSource completion, Exception? error)
    {
        if (error is null)
        {
            completion.TrySetResult();
        }
        else if (error is OperationCanceledException oce)
        {
            completion.TrySetCanceled(oce.CancellationToken);
        }
        else
        {
            completion.TrySetException(error);
        }
    }
}
