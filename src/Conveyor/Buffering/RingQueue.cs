namespace Conveyor;

/// <summary>
/// A growable FIFO ring of structs. Not thread-safe: <see cref="BoundedBuffer{T}"/> uses it only under its lock.
/// It grows by doubling up to the buffer's capacity and never shrinks, so steady state allocates nothing.
/// </summary>
internal sealed class RingQueue<TEntry>
{
    private TEntry[] _array;
    private int _head;
    private int _count;

    public RingQueue(int initialCapacity) => _array = new TEntry[Math.Max(4, initialCapacity)];

    public int Count => _count;

    public void Enqueue(in TEntry entry)
    {
        if (_count == _array.Length)
        {
            Grow();
        }

        var tail = _head + _count;
        if (tail >= _array.Length)
        {
            tail -= _array.Length;
        }

        _array[tail] = entry;
        _count++;
    }

    public TEntry Dequeue()
    {
        var entry = _array[_head];
        // Clear the slot so a dequeued reference is not kept alive by the ring.
        _array[_head] = default!;
        if (++_head == _array.Length)
        {
            _head = 0;
        }

        _count--;
        return entry;
    }

    public ref readonly TEntry PeekHead() => ref _array[_head];

    private void Grow()
    {
        var bigger = new TEntry[_array.Length * 2];
        var firstPart = Math.Min(_count, _array.Length - _head);
        Array.Copy(_array, _head, bigger, 0, firstPart);
        Array.Copy(_array, 0, bigger, firstPart, _count - firstPart);
        _array = bigger;
        _head = 0;
    }
}
