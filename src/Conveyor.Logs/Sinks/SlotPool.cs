namespace Conveyor.Logs.Sinks;

/// <summary>
/// A few reusable objects a sink's preparations take and give back between batches (buffers that grew to a batch's
/// size), lock-free: a slot is null while its object is out. Sized to what can be in use at once (the lane's workers
/// and one more); a rent from an empty pool makes a new object, and a return to a full pool lets it go.
/// </summary>
/// <remarks>What holds: an object is in at most one slot, and a rented one in none, so two preparations never share it.</remarks>
internal sealed class SlotPool<T>(int slots, Func<T> create)
    where T : class
{
    private readonly T?[] _slots = new T?[slots];

    public T Rent()
    {
        for (var i = 0; i < _slots.Length; i++)
        {
            if (Interlocked.Exchange(ref _slots[i], null) is { } item)
            {
                return item;
            }
        }

        return create();
    }

    public void Return(T item)
    {
        for (var i = 0; i < _slots.Length; i++)
        {
            if (Interlocked.CompareExchange(ref _slots[i], item, null) is null)
            {
                return;
            }
        }
    }
}
