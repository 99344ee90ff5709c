namespace Conveyor;

/// <summary>The producer side of a <see cref="BoundedBuffer{T}"/>. Thread-safe; any number of producers.</summary>
/// <typeparam name="T">The item type.</typeparam>
public sealed class BufferWriter<T>
{
    private readonly BoundedBuffer<T> _buffer;

    internal BufferWriter(BoundedBuffer<T> buffer) => _buffer = buffer;

    /// <summary>
    /// Writes <paramref name="item"/> if it fits now. Returns true when the item is in the buffer (under
    /// <see cref="FullMode.DropOldest"/>, possibly by evicting older items). Returns false when it is not:
    /// under <see cref="FullMode.Block"/> the buffer is full and the caller keeps the item (nothing is counted);
    /// under the other modes the item was dropped or rejected and counted with its reason; after
    /// <see cref="Complete"/>, always false.
    /// </summary>
    public bool TryWrite(T item) => _buffer.TryWrite(item);

    /// <summary>
    /// Writes <paramref name="item"/>, waiting for room under <see cref="FullMode.Block"/>. Completes with true
    /// when the item is in the buffer, false when it was dropped, rejected or timed out (counted with its reason).
    /// </summary>
    /// <exception cref="OperationCanceledException">The token fired while waiting; the item was not written and the caller keeps it.</exception>
    /// <exception cref="BufferCompletedException">The buffer was completed before or during the wait; the item was not written.</exception>
    public ValueTask<bool> WriteAsync(T item, CancellationToken cancellationToken = default) => _buffer.WriteAsync(item, cancellationToken);

    /// <summary>
    /// Writes all of <paramref name="items"/> or none: true when all are in the buffer, false when none are
    /// (full under <see cref="FullMode.Block"/>, or refused and counted under the other modes).
    /// </summary>
    public bool TryWriteAll(ReadOnlySpan<T> items) => _buffer.TryWriteAll(items);

    /// <summary>
    /// Writes all of <paramref name="items"/> when they fit now and no writer is waiting, whatever the full mode: true
    /// when all are in the buffer; false when none are, and then nothing was dropped or counted, so the caller still
    /// holds every item and may write them one by one under the buffer's policy. One lock and one wake of the readers
    /// for the whole span, where writing items one by one wakes a reader at the first and hands it a batch of one.
    /// </summary>
    public bool TryWriteAllIfRoom(ReadOnlySpan<T> items) => _buffer.TryWriteAllIfRoom(items);

    /// <summary>
    /// Writes all of <paramref name="items"/> or none, waiting under <see cref="FullMode.Block"/> until there is room
    /// for all of them at once. Completes with true when all are in the buffer, false when none are (counted).
    /// A batch larger than the whole buffer is refused at once as <see cref="DropReason.TooLarge"/>.
    /// </summary>
    /// <exception cref="OperationCanceledException">The token fired while waiting; none was written.</exception>
    /// <exception cref="BufferCompletedException">The buffer was completed; none was written.</exception>
    public ValueTask<bool> WriteAllAsync(IReadOnlyList<T> items, CancellationToken cancellationToken = default) =>
        _buffer.WriteAllAsync(items, cancellationToken);

    /// <summary>
    /// Stops intake: later writes fail, waiting writers get <see cref="BufferCompletedException"/>, and readers
    /// drain what is queued before <see cref="BoundedBuffer{T}.Completion"/> completes (faulted with
    /// <paramref name="error"/> when given). Returns false when the writer was already completed.
    /// </summary>
    public bool Complete(Exception? error = null) => _buffer.Complete(error);
}
