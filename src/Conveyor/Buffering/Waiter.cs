using System.Threading.Tasks.Sources;

namespace Conveyor;

/// <summary>
/// A reusable awaitable for a reader waiting for items or a writer waiting for room, kept in an intrusive
/// doubly-linked <see cref="WaiterList{TWaiter}"/> owned by the buffer.
/// </summary>
/// <remarks>
/// Rule that makes completion race-free: whoever unlinks a waiter from its list (under the buffer lock) is the
/// one that completes it — a writer releasing room, a reader adding items, cancellation, a timeout or
/// completion of the buffer. Completion itself happens after the lock is released, because continuations run
/// asynchronously but <c>SetResult</c> still touches the scheduler.
/// </remarks>
internal abstract class Waiter : IValueTaskSource<bool>, IThreadPoolWorkItem
{
    // Continuations run inline on the pool thread that executes this waiter as a work item (see SetResult), so the
    // core itself must not queue them a second time.
    private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = false };
    private bool _pendingResult;
    private Exception? _pendingError;

    // Both sides of a wait must be finished before the waiter is reused: the awaiter (GetResult) and the completer
    // (Execute, still inside the core's SetResult after the awaiter may already have seen it complete). Each adds
    // one when done; whoever makes it two recycles the waiter. Resetting earlier would let a completion still
    // under way land on the next wait.
    private int _sidesDone;
    private CancellationTokenRegistration _cancellation;
    private ITimer? _timer;

    internal Waiter? Prev;
    internal Waiter? Next;
    internal bool IsLinked;

    /// <summary>Incremented each time the waiter is recycled, so a late timer callback can tell it is stale.</summary>
    internal int Generation;

    /// <summary>When the wait started, on the owning buffer's clock (writers only).</summary>
    internal long StartedAt;

    public ValueTask<bool> AsValueTask() => new(this, _core.Version);

    public void Arm(ITimer? timer, CancellationToken cancellationToken)
    {
        _timer = timer;
        if (cancellationToken.CanBeCanceled)
        {
            _cancellation = cancellationToken.UnsafeRegister(static (state, token) => ((Waiter)state!).OnCanceled(token), this);
        }
    }

    /// <summary>
    /// Completes the wait on a thread-pool thread, never inline. The waiter is queued globally rather than to the
    /// completing thread's local queue: a producer that wakes its consumer keeps producing, and a continuation
    /// parked in its local queue would wait for a steal while the other core idles.
    /// </summary>
    public void SetResult(bool result)
    {
        _pendingResult = result;
        _pendingError = null;
        ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
    }

    public void SetException(Exception error)
    {
        _pendingError = error;
        ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
    }

    void IThreadPoolWorkItem.Execute()
    {
        if (_pendingError is { } error)
        {
            _pendingError = null;
            _core.SetException(error);
        }
        else
        {
            _core.SetResult(_pendingResult);
        }

        SideDone();
    }

    private void SideDone()
    {
        if (Interlocked.Increment(ref _sidesDone) == 2)
        {
            _sidesDone = 0;
            Generation++;
            _core.Reset();
            Release();
        }
    }

    /// <summary>Called (outside any lock) when the token fires; the owner decides whether the waiter is still waiting.</summary>
    protected abstract void OnCanceled(CancellationToken token);

    /// <summary>Called after the awaiter has taken the result: the waiter may be pooled again.</summary>
    protected abstract void Release();

    bool IValueTaskSource<bool>.GetResult(short token)
    {
        try
        {
            return _core.GetResult(token);
        }
        finally
        {
            // Dispose waits for a running cancellation callback, so none can touch the waiter once it is reused.
            _cancellation.Dispose();
            _cancellation = default;
            _timer?.Dispose();
            _timer = null;
            SideDone();
        }
    }

    ValueTaskSourceStatus IValueTaskSource<bool>.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<bool>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}

/// <summary>An intrusive FIFO list of waiters; used only under the owning buffer's lock.</summary>
internal struct WaiterList<TWaiter>
    where TWaiter : Waiter
{
    private Waiter? _head;
    private Waiter? _tail;

    public int Count { get; private set; }

    public readonly TWaiter? Head => (TWaiter?)_head;

    public void AddLast(TWaiter waiter)
    {
        waiter.Prev = _tail;
        waiter.Next = null;
        if (_tail is null)
        {
            _head = waiter;
        }
        else
        {
            _tail.Next = waiter;
        }

        _tail = waiter;
        waiter.IsLinked = true;
        Count++;
    }

    public void Remove(TWaiter waiter)
    {
        if (waiter.Prev is null)
        {
            _head = waiter.Next;
        }
        else
        {
            waiter.Prev.Next = waiter.Next;
        }

        if (waiter.Next is null)
        {
            _tail = waiter.Prev;
        }
        else
        {
            waiter.Next.Prev = waiter.Prev;
        }

        waiter.Prev = null;
        waiter.Next = null;
        waiter.IsLinked = false;
        Count--;
    }
}
