using System.Runtime.CompilerServices;

namespace Conveyor;

public sealed partial class BoundedBuffer<T>
{
    internal bool TryRead(out T item)
    {
        Waiter? writers = null;
        bool completed;
        lock (_lock)
        {
            if (_queue.Count == 0)
            {
                item = default!;
                return false;
            }

            item = DequeueLocked().Item;
            if (_writers.Count > 0)
            {
                writers = AdmitWritersLocked(Now());
            }

            completed = _writerCompleted && _queue.Count == 0;
            AssertInvariants();
        }

        CompleteChain(writers, true);
        if (completed)
        {
            SignalCompletion();
        }

        return true;
    }

    /// <summary>
    /// Under one lock acquisition, moves up to <paramref name="maxItems"/> items into <paramref name="destination"/>
    /// without letting <paramref name="batchBytes"/> pass <paramref name="maxBytes"/>, except that a batch always
    /// takes its first item whatever its size. Returns how many were moved.
    /// </summary>
    internal int TryReadBatch(List<T> destination, int maxItems, long maxBytes, ref long batchBytes) =>
        TryReadBatch(destination, maxItems, maxBytes, ref batchBytes, out _);

    /// <summary>As above; <paramref name="bytesFull"/> says it stopped at an item that would pass <paramref name="maxBytes"/>.</summary>
    private int TryReadBatch(List<T> destination, int maxItems, long maxBytes, ref long batchBytes, out bool bytesFull)
    {
        bytesFull = false;
        Waiter? writers = null;
        bool completed;
        var moved = 0;
        lock (_lock)
        {
            while (_queue.Count > 0 && destination.Count < maxItems)
            {
                var size = _queue.PeekHead().Size;
                if (destination.Count > 0 && maxBytes - batchBytes < size)
                {
                    bytesFull = true;
                    break;
                }

                destination.Add(DequeueLocked().Item);
                batchBytes += size;
                moved++;
            }

            if (moved > 0 && _writers.Count > 0)
            {
                writers = AdmitWritersLocked(Now());
            }

            completed = moved > 0 && _writerCompleted && _queue.Count == 0;
            AssertInvariants();
        }

        CompleteChain(writers, true);
        if (completed)
        {
            SignalCompletion();
        }

        return moved;
    }

    /// <summary>
    /// Waits until an item is queued (true) or the writer is completed and the buffer empty (false); with a
    /// <paramref name="timeout"/>, also false when it passes. Consumes nothing, so cancelling it loses nothing.
    /// </summary>
    internal ValueTask<bool> WaitToReadAsync(TimeSpan? timeout, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<bool>(cancellationToken);
        }

        ReaderWaiter waiter;
        lock (_lock)
        {
            if (_queue.Count > 0)
            {
                return new ValueTask<bool>(true);
            }

            if (_writerCompleted)
            {
                // The end is seen here first when the read that took the last item has not signalled it yet (it does
                // so after leaving the lock): signal it now, so whoever acts on this false finds Completion set, with
                // the writer's error (a consumer stage that ended its workers read a fault-free Completion and
                // completed its output without the error). The completion runs its continuations asynchronously,
                // so setting it under the lock runs no code of theirs here.
                SignalCompletion();
                return new ValueTask<bool>(false);
            }

            if (timeout is { } t && t <= TimeSpan.Zero)
            {
                return new ValueTask<bool>(false);
            }

            waiter = RentReader();
            _readers.AddLast(waiter);
        }

        ITimer? timer = null;
        if (timeout is { } due)
        {
            var state = new ReaderTimeoutState(waiter, waiter.Generation);
            timer = _time.CreateTimer(static s => ((ReaderTimeoutState)s!).Fire(), state, due, Timeout.InfiniteTimeSpan);
        }

        waiter.Arm(timer, cancellationToken);
        return waiter.AsValueTask();
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    internal async ValueTask<T> ReadAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            if (TryRead(out var item))
            {
                return item;
            }

            if (!await WaitToReadAsync(null, cancellationToken).ConfigureAwait(false))
            {
                throw CompletedError();
            }
        }
    }

    /// <summary>
    /// Reads a batch into <paramref name="destination"/>: waits for a first item, then keeps taking items until
    /// <paramref name="maxItems"/> or <paramref name="maxBytes"/> is reached or <paramref name="linger"/> has passed
    /// since the first item. Returns the number added; 0 only when the buffer is completed and empty.
    /// </summary>
    /// <remarks>
    /// Items already taken are never lost to cancellation: a token that fires while the batch holds items ends the
    /// linger and the batch is returned; <see cref="OperationCanceledException"/> is thrown only while it holds none.
    /// </remarks>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    internal async ValueTask<int> ReadBatchAsync(List<T> destination, int maxItems, long maxBytes, TimeSpan linger, CancellationToken cancellationToken)
    {
        var start = destination.Count;
        long batchBytes = 0;
        var limit = start + maxItems;
        while (TryReadBatch(destination, limit, maxBytes, ref batchBytes) == 0)
        {
            if (!await WaitToReadAsync(null, cancellationToken).ConfigureAwait(false))
            {
                return 0;
            }
        }

        if (linger <= TimeSpan.Zero)
        {
            return destination.Count - start;
        }

        var firstAt = _time.GetTimestamp();
        while (destination.Count < limit && batchBytes < maxBytes)
        {
            if (TryReadBatch(destination, limit, maxBytes, ref batchBytes, out var bytesFull) > 0)
            {
                continue;
            }

            if (bytesFull)
            {
                // The next item does not fit: the batch is as full as its byte bound allows. Waiting would return at
                // once (an item is queued) and spin until the linger ran out.
                break;
            }

            var left = linger - _time.GetElapsedTime(firstAt);
            if (left <= TimeSpan.Zero || cancellationToken.IsCancellationRequested)
            {
                break;
            }

            bool more;
            try
            {
                more = await WaitToReadAsync(left, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            if (!more)
            {
                // Timed out, or completed and empty: either way the batch is as full as it will get.
                break;
            }
        }

        return destination.Count - start;
    }

    private void OnReaderCanceled(ReaderWaiter waiter, CancellationToken token)
    {
        lock (_lock)
        {
            if (!waiter.IsLinked)
            {
                return;
            }

            _readers.Remove(waiter);
        }

        waiter.SetException(new OperationCanceledException(token));
    }

    private void OnReaderTimedOut(ReaderWaiter waiter, int generation)
    {
        lock (_lock)
        {
            if (!waiter.IsLinked || waiter.Generation != generation)
            {
                return;
            }

            _readers.Remove(waiter);
        }

        waiter.SetResult(false);
    }

    private ReaderWaiter RentReader()
    {
        for (var i = 0; i < _readerPool.Length; i++)
        {
            var w = Interlocked.Exchange(ref _readerPool[i], null);
            if (w is not null)
            {
                return w;
            }
        }

        return new ReaderWaiter(this);
    }

    private void ReturnReader(ReaderWaiter waiter)
    {
        for (var i = 0; i < _readerPool.Length; i++)
        {
            if (Interlocked.CompareExchange(ref _readerPool[i], waiter, null) is null)
            {
                return;
            }
        }
    }

    private sealed class ReaderTimeoutState(ReaderWaiter waiter, int generation)
    {
        public void Fire() => waiter.Owner.OnReaderTimedOut(waiter, generation);
    }

    private sealed class ReaderWaiter(BoundedBuffer<T> owner) : Waiter
    {
        public BoundedBuffer<T> Owner => owner;

        protected override void OnCanceled(CancellationToken token) => owner.OnReaderCanceled(this, token);

        protected override void Release() => owner.ReturnReader(this);
    }
}
