using System.Buffers;

namespace Conveyor;

public sealed partial class BoundedBuffer<T>
{
    private enum WriteStatus
    {
        Written,
        Full,
        Dropped,
        Closed,
        Waiting,
    }

    internal bool TryWrite(T item)
    {
        var status = WriteCore(item, SizeOf(item), canWait: false, out _);
        return status == WriteStatus.Written;
    }

    internal ValueTask<bool> WriteAsync(T item, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<bool>(cancellationToken);
        }

        var status = WriteCore(item, SizeOf(item), canWait: true, out var waiter);
        return status switch
        {
            WriteStatus.Written => new ValueTask<bool>(true),
            WriteStatus.Dropped => new ValueTask<bool>(false),
            WriteStatus.Closed => ValueTask.FromException<bool>(CompletedError()),
            _ => Arm(waiter!, cancellationToken),
        };
    }

    private WriteStatus WriteCore(T item, long size, bool canWait, out WriterWaiter? waiter)
    {
        waiter = null;
        Waiter? readers = null;
        List<T>? evicted = null;
        DropReason? dropped = null;
        WriteStatus status;
        var now = Now();
        lock (_lock)
        {
            if (_writerCompleted)
            {
                return WriteStatus.Closed;
            }

            if (size > _maxBytes)
            {
                dropped = _counters.Drop(DropReason.TooLarge, 1);
                status = WriteStatus.Dropped;
            }
            else if (_writers.Count == 0 && Fits(1, size))
            {
                EnqueueLocked(item, size, now);
                readers = DetachReadersLocked();
                status = WriteStatus.Written;
            }
            else
            {
                switch (_fullMode)
                {
                    case FullMode.Block when canWait:
                        waiter = RentWriter();
                        waiter.SetSingle(item, size);
                        waiter.StartedAt = now;
                        _writers.AddLast(waiter);
                        status = WriteStatus.Waiting;
                        break;
                    case FullMode.Block:
                        status = WriteStatus.Full;
                        break;
                    case FullMode.Reject:
                        dropped = _counters.Drop(DropReason.Rejected, 1);
                        status = WriteStatus.Dropped;
                        break;
                    case FullMode.DropNewest:
                        dropped = _counters.Drop(DropReason.DropNewest, 1);
                        status = WriteStatus.Dropped;
                        break;
                    default:
                        EvictOldestLocked(1, size, ref evicted);
                        EnqueueLocked(item, size, now);
                        readers = DetachReadersLocked();
                        status = WriteStatus.Written;
                        break;
                }
            }

            AssertInvariants();
        }

        CompleteChain(readers, true);
        ReportDropped(evicted, DropReason.DropOldest);
        if (dropped is { } reason)
        {
            ReportDropped(item, reason);
        }

        return status;
    }

    internal bool TryWriteAll(ReadOnlySpan<T> items)
    {
        if (items.IsEmpty)
        {
            return !IsWriterCompletedUnsafe;
        }

        var entries = MeasureAll(items, out var bytes);
        var status = WriteAllCore(items, entries, bytes, canWait: false, out _);
        return status == WriteStatus.Written;
    }

    internal bool TryWriteAllIfRoom(ReadOnlySpan<T> items)
    {
        if (items.IsEmpty)
        {
            return !IsWriterCompletedUnsafe;
        }

        var entries = MeasureAll(items, out var bytes);
        var status = WriteAllCore(items, entries, bytes, canWait: false, out _, onlyIfRoom: true);
        return status == WriteStatus.Written;
    }

    internal ValueTask<bool> WriteAllAsync(IReadOnlyList<T> items, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(items);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<bool>(cancellationToken);
        }

        var copy = items switch
        {
            T[] array => array,
            List<T> list => System.Runtime.InteropServices.CollectionsMarshal.AsSpan(list).ToArray(),
            _ => items.ToArray(),
        };
        if (copy.Length == 0)
        {
            return IsWriterCompletedUnsafe ? ValueTask.FromException<bool>(CompletedError()) : new ValueTask<bool>(true);
        }

        var entries = MeasureAll(copy, out var bytes);
        var status = WriteAllCore(copy, entries, bytes, canWait: true, out var waiter);
        return status switch
        {
            WriteStatus.Written => new ValueTask<bool>(true),
            WriteStatus.Dropped => new ValueTask<bool>(false),
            WriteStatus.Closed => ValueTask.FromException<bool>(CompletedError()),
            _ => Arm(waiter!, cancellationToken),
        };
    }

    private bool IsWriterCompletedUnsafe => Volatile.Read(ref _writerCompleted);

    /// <summary>Measures every item outside the lock; the entries carry the sizes, their timestamps are set on admission.</summary>
    private Entry[] MeasureAll(ReadOnlySpan<T> items, out long bytes)
    {
        var entries = ArrayPool<Entry>.Shared.Rent(items.Length);
        bytes = 0;
        for (var i = 0; i < items.Length; i++)
        {
            var size = SizeOf(items[i]);
            entries[i] = new Entry(items[i], size, 0);
            bytes = bytes > long.MaxValue - size ? long.MaxValue : bytes + size;
        }

        return entries;
    }

    /// <param name="onlyIfRoom">Write only when all fit now: otherwise nothing is written, dropped or counted, whatever the mode.</param>
    private WriteStatus WriteAllCore(ReadOnlySpan<T> items, Entry[] entries, long bytes, bool canWait, out WriterWaiter? waiter, bool onlyIfRoom = false)
    {
        waiter = null;
        var count = items.Length;
        Waiter? readers = null;
        List<T>? evicted = null;
        DropReason? dropped = null;
        WriteStatus status;
        var now = Now();
        var keepEntries = false;
        lock (_lock)
        {
            if (_writerCompleted)
            {
                ReturnArray(entries);
                return WriteStatus.Closed;
            }

            if (onlyIfRoom && (_writers.Count > 0 || !Fits(count, bytes)))
            {
                status = WriteStatus.Full;
            }
            else if (count > _capacity || bytes > _maxBytes)
            {
                dropped = _counters.Drop(DropReason.TooLarge, count);
                status = WriteStatus.Dropped;
            }
            else if (_writers.Count == 0 && Fits(count, bytes))
            {
                for (var i = 0; i < count; i++)
                {
                    EnqueueLocked(entries[i].Item, entries[i].Size, now);
                }

                readers = DetachReadersLocked();
                status = WriteStatus.Written;
            }
            else
            {
                switch (_fullMode)
                {
                    case FullMode.Block when canWait:
                        waiter = RentWriter();
                        waiter.SetMany(entries, count, bytes);
                        waiter.StartedAt = now;
                        _writers.AddLast(waiter);
                        keepEntries = true;
                        status = WriteStatus.Waiting;
                        break;
                    case FullMode.Block:
                        status = WriteStatus.Full;
                        break;
                    case FullMode.Reject:
                        dropped = _counters.Drop(DropReason.Rejected, count);
                        status = WriteStatus.Dropped;
                        break;
                    case FullMode.DropNewest:
                        dropped = _counters.Drop(DropReason.DropNewest, count);
                        status = WriteStatus.Dropped;
                        break;
                    default:
                        EvictOldestLocked(count, bytes, ref evicted);
                        for (var i = 0; i < count; i++)
                        {
                            EnqueueLocked(entries[i].Item, entries[i].Size, now);
                        }

                        readers = DetachReadersLocked();
                        status = WriteStatus.Written;
                        break;
                }
            }

            AssertInvariants();
        }

        if (!keepEntries)
        {
            ReturnArray(entries);
        }

        CompleteChain(readers, true);
        ReportDropped(evicted, DropReason.DropOldest);
        if (dropped is { } reason)
        {
            ReportDropped(items, reason);
        }

        return status;
    }

    private ValueTask<bool> Arm(WriterWaiter waiter, CancellationToken cancellationToken)
    {
        ITimer? timer = null;
        if (_blockTimeout is { } timeout)
        {
            var state = new TimeoutState(waiter, waiter.Generation);
            timer = _time.CreateTimer(static s => ((TimeoutState)s!).Fire(), state, timeout, Timeout.InfiniteTimeSpan);
        }

        waiter.Arm(timer, cancellationToken);
        return waiter.AsValueTask();
    }

    /// <summary>Completes writing. Returns false when the writer was already completed.</summary>
    internal bool Complete(Exception? error)
    {
        Waiter? writers = null;
        Waiter? readers = null;
        bool empty;
        lock (_lock)
        {
            if (_writerCompleted)
            {
                return false;
            }

            _writerCompleted = true;
            _completionError = error;
            while (_writers.Head is { } w)
            {
                _writers.Remove(w);
                w.Clear();
                w.Next = writers;
                writers = w;
            }

            empty = _queue.Count == 0;
            if (empty)
            {
                readers = DetachReadersLocked();
            }

            AssertInvariants();
        }

        FailChain(writers, CompletedError());

        // Completion first: a reader woken with false may act on the end at once.
        if (empty)
        {
            SignalCompletion();
        }

        CompleteChain(readers, false);
        return true;
    }

    private void OnWriterCanceled(WriterWaiter waiter, CancellationToken token)
    {
        lock (_lock)
        {
            if (!waiter.IsLinked)
            {
                return;
            }

            _writers.Remove(waiter);
            _counters.BlockedTicks += Now() - waiter.StartedAt;
            waiter.Clear();
        }

        waiter.SetException(new OperationCanceledException(token));
    }

    private void OnWriterTimedOut(WriterWaiter waiter, int generation)
    {
        List<T> items;
        Waiter? admitted = null;
        lock (_lock)
        {
            if (!waiter.IsLinked || waiter.Generation != generation)
            {
                return;
            }

            _writers.Remove(waiter);
            _counters.BlockedTicks += Now() - waiter.StartedAt;
            _counters.Drop(DropReason.BlockTimeout, waiter.Count);
            items = waiter.TakeItems();

            // The head may have been a large write blocking smaller ones behind it that fit now.
            admitted = AdmitWritersLocked(Now());
            AssertInvariants();
        }

        waiter.SetResult(false);
        CompleteChain(admitted, true);
        ReportDropped(items, DropReason.BlockTimeout);
    }

    private WriterWaiter RentWriter()
    {
        for (var i = 0; i < _writerPool.Length; i++)
        {
            var w = Interlocked.Exchange(ref _writerPool[i], null);
            if (w is not null)
            {
                return w;
            }
        }

        return new WriterWaiter(this);
    }

    private void ReturnWriter(WriterWaiter waiter)
    {
        for (var i = 0; i < _writerPool.Length; i++)
        {
            if (Interlocked.CompareExchange(ref _writerPool[i], waiter, null) is null)
            {
                return;
            }
        }
    }

    private sealed class TimeoutState(WriterWaiter waiter, int generation)
    {
        public void Fire() => waiter.Owner.OnWriterTimedOut(waiter, generation);
    }

    /// <summary>A writer waiting for room, holding the item (or all-or-nothing items) it will move in once they fit.</summary>
    private sealed class WriterWaiter(BoundedBuffer<T> owner) : Waiter
    {
        private Entry _single;
        private Entry[]? _many;

        public BoundedBuffer<T> Owner => owner;

        public int Count { get; private set; }

        public long Bytes { get; private set; }

        public void SetSingle(T item, long size)
        {
            _single = new Entry(item, size, 0);
            _many = null;
            Count = 1;
            Bytes = size;
        }

        public void SetMany(Entry[] entries, int count, long bytes)
        {
            _many = entries;
            Count = count;
            Bytes = bytes;
        }

        /// <summary>Under the owner's lock: moves the held items into the queue.</summary>
        public void MoveInto(BoundedBuffer<T> buffer, long now)
        {
            if (_many is null)
            {
                buffer.EnqueueLocked(_single.Item, _single.Size, now);
            }
            else
            {
                for (var i = 0; i < Count; i++)
                {
                    buffer.EnqueueLocked(_many[i].Item, _many[i].Size, now);
                }
            }

            Clear();
        }

        public List<T> TakeItems()
        {
            var items = new List<T>(Count);
            if (_many is null)
            {
                items.Add(_single.Item);
            }
            else
            {
                for (var i = 0; i < Count; i++)
                {
                    items.Add(_many[i].Item);
                }
            }

            Clear();
            return items;
        }

        public void Clear()
        {
            _single = default;
            ReturnArray(_many);
            _many = null;
            Count = 0;
            Bytes = 0;
        }

        protected override void OnCanceled(CancellationToken token) => owner.OnWriterCanceled(this, token);

        protected override void Release() => owner.ReturnWriter(this);
    }
}
