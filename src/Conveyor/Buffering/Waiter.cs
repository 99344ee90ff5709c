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
internal abstract class Waiter : IValueTaskSource<bool>
{
    private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = true };
    private CancellationTokenRegistration _cancellation;
    private ITimer? _timer;

    internal Waiter? Prev;
    internal Waiter? Next;
    internal bool IsLinked;

    /// <summary>Incremented each time the waiter is reused, so a late timer callback can tell it is stale.</summary>
    internal int Generation;

    /// <summary>When the wait started, in <see cref="TimeProvider.GetTimestamp"/> units (writers only).</summary>
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

    public void SetResult(bool result) => _core.SetResult(result);

    public void SetException(Exception error) => _core.SetException(error);

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
            Generation++;
            _core.Reset();
            Release();
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
