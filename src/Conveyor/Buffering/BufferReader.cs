namespace Conveyor;

/// <summary>The consumer side of a <see cref="BoundedBuffer{T}"/>. Thread-safe; any number of consumers.</summary>
/// <typeparam name="T">The item type.</typeparam>
public sealed class BufferReader<T>
{
    private readonly BoundedBuffer<T> _buffer;

    internal BufferReader(BoundedBuffer<T> buffer) => _buffer = buffer;

    /// <summary>Completes when the writer is completed and every item has been read.</summary>
    public Task Completion => _buffer.Completion;

    /// <summary>Items queued now.</summary>
    public int Count => _buffer.Count;

    /// <summary>Takes the oldest item if there is one.</summary>
    public bool TryRead(out T item) => _buffer.TryRead(out item);

    /// <summary>Takes the oldest item, waiting (without polling) until there is one.</summary>
    /// <exception cref="BufferCompletedException">The buffer is completed and empty.</exception>
    /// <exception cref="OperationCanceledException">The token fired while waiting; nothing was taken.</exception>
    public ValueTask<T> ReadAsync(CancellationToken cancellationToken = default) => _buffer.ReadAsync(cancellationToken);

    /// <summary>
    /// Waits until an item is queued (true) or the buffer is completed and empty (false). Takes nothing, so
    /// cancelling the wait loses nothing.
    /// </summary>
    public ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken = default) => _buffer.WaitToReadAsync(null, cancellationToken);

    /// <summary>
    /// Reads a batch into <paramref name="destination"/> and returns how many items were added: it waits for a first
    /// item, then returns as soon as <paramref name="maxItems"/> or <paramref name="maxBytes"/> is reached or
    /// <paramref name="linger"/> has passed since the first item. A batch never exceeds <paramref name="maxBytes"/>
    /// unless its first item alone does. Returns 0 only when the buffer is completed and empty.
    /// </summary>
    /// <remarks>
    /// Cancellation never loses items: if the token fires while the batch holds items, the batch is returned;
    /// <see cref="OperationCanceledException"/> is thrown only while it holds none.
    /// </remarks>
    public ValueTask<int> ReadBatchAsync(List<T> destination, int maxItems, long maxBytes, TimeSpan linger, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxItems, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBytes, 1);
        return _buffer.ReadBatchAsync(destination, maxItems, maxBytes, linger, cancellationToken);
    }

    /// <summary>Reads a batch into a new list; see <see cref="ReadBatchAsync(List{T}, int, long, TimeSpan, CancellationToken)"/>. An empty list means completed.</summary>
    public async ValueTask<IReadOnlyList<T>> ReadBatchAsync(int maxItems, long maxBytes, TimeSpan linger, CancellationToken cancellationToken = default)
    {
        var batch = new List<T>(Math.Min(maxItems, 1024));
        await ReadBatchAsync(batch, maxItems, maxBytes, linger, cancellationToken).ConfigureAwait(false);
        return batch;
    }

    /// <summary>Reads a batch bounded by count only; see <see cref="ReadBatchAsync(List{T}, int, long, TimeSpan, CancellationToken)"/>.</summary>
    public ValueTask<int> ReadBatchAsync(List<T> destination, int maxItems, TimeSpan linger, CancellationToken cancellationToken = default) =>
        ReadBatchAsync(destination, maxItems, long.MaxValue, linger, cancellationToken);
}
