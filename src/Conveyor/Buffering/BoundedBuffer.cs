using System.Buffers;
using System.Diagnostics;
using Conveyor.Diagnostics;

namespace Conveyor;

/// <summary>
/// A thread-safe FIFO buffer bounded by item count and, optionally, by bytes, for many producers and many
/// consumers. Producers write through <see cref="Writer"/>, consumers read through <see cref="Reader"/>.
/// </summary>
/// <remarks>
/// <para>Invariants, all held under <c>_lock</c> and checked by <see cref="AssertInvariants"/> in debug builds:</para>
/// <list type="number">
/// <item><c>_queue.Count ≤ Capacity</c> and <c>_bytes ≤ MaxBytes</c>, at all times: admission is decided under the lock.</item>
/// <item><c>_bytes</c> is the sum of the sizes of the queued entries.</item>
/// <item><c>Written = Read + _queue.Count + DroppedOldest</c> (<c>_counters</c>): every accepted item is read, queued or evicted.</item>
/// <item>Reader waiters exist only while the queue is empty; writer waiters only while the writer is not completed.</item>
/// <item>Writers are admitted in FIFO order: while any writer waits, a new write does not overtake it.</item>
/// </list>
/// <para>Why not <c>System.Threading.Channels</c> underneath: a channel takes its lock once per item, so batch
/// writes and batch reads cannot amortise it, and exact byte bounds with drop-oldest eviction need the
/// accounting and the queue under one lock. Benchmarks (docs/BENCHMARKS.md) compare this type with raw
/// bounded channels on every release.</para>
/// <para>Callbacks (<see cref="BufferOptions{T}.OnDropped"/>) and waiter completions always run after the lock
/// is released, so user code never runs under it and cannot deadlock the buffer.</para>
/// </remarks>
/// <typeparam name="T">The item type.</typeparam>
public sealed partial class BoundedBuffer<T> : IBufferStatisticsSource
{
    private readonly Lock _lock = new();
    private readonly RingQueue<Entry> _queue;
    private readonly int _capacity;
    private readonly long _maxBytes;
    private readonly Func<T, long>? _sizeOf;
    private readonly FullMode _fullMode;
    private readonly TimeSpan? _blockTimeout;
    private readonly Action<T, DropReason>? _onDropped;
    private readonly TimeProvider _time;
    private readonly bool _systemClock;
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ReaderWaiter?[] _readerPool = new ReaderWaiter?[8];
    private readonly WriterWaiter?[] _writerPool = new WriterWaiter?[8];

    private WaiterList<ReaderWaiter> _readers;
    private WaiterList<WriterWaiter> _writers;
    private long _bytes;
    private bool _writerCompleted;
    private Exception? _completionError;

    private BufferCounters _counters;

    /// <summary>Creates a buffer; <paramref name="options"/> is validated and copied.</summary>
    /// <exception cref="ArgumentException">A setting is invalid; the message names it.</exception>
    public BoundedBuffer(BufferOptions<T> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Name = options.Name;
        _capacity = options.Capacity;
        _maxBytes = options.MaxBytes ?? long.MaxValue;
        _sizeOf = options.SizeOf;
        _fullMode = options.FullMode;
        _blockTimeout = options.BlockTimeout == Timeout.InfiniteTimeSpan ? null : options.BlockTimeout;
        _onDropped = options.OnDropped;
        _time = options.TimeProvider;
        _systemClock = ReferenceEquals(_time, TimeProvider.System);
        _queue = new RingQueue<Entry>(Math.Min(_capacity, 256));
        Writer = new BufferWriter<T>(this);
        Reader = new BufferReader<T>(this);
        BufferMetrics.Register(this);
    }

    /// <summary>Creates a buffer bounded by <paramref name="capacity"/> items with the default options otherwise.</summary>
    public BoundedBuffer(int capacity)
        : this(new BufferOptions<T> { Capacity = capacity })
    {
    }

    /// <summary>The producer side.</summary>
    public BufferWriter<T> Writer { get; }

    /// <summary>The consumer side.</summary>
    public BufferReader<T> Reader { get; }

    /// <summary>The name used to tag this buffer's metrics.</summary>
    public string Name { get; }

    /// <summary>The count bound.</summary>
    public int Capacity => _capacity;

    /// <summary>The byte bound, or null when there is none.</summary>
    public long? MaxBytes => _maxBytes == long.MaxValue ? null : _maxBytes;

    /// <summary>The policy for writes that do not fit.</summary>
    public FullMode FullMode => _fullMode;

    /// <summary>Items queued now.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _queue.Count;
            }
        }
    }

    /// <summary>Completes when the writer is completed and every item has been read; faults with the error given to <c>Complete</c>.</summary>
    public Task Completion => _completion.Task;

    /// <summary>A consistent snapshot of the counters.</summary>
    public BufferStatistics GetStatistics()
    {
        var now = Now();
        lock (_lock)
        {
            var blocked = _counters.BlockedTicks;
            for (var w = _writers.Head; w is not null; w = (WriterWaiter?)w.Next)
            {
                blocked += now - w.StartedAt;
            }

            return _counters.ToStatistics(Elapsed(0, blocked)) with
            {
                Depth = _queue.Count,
                Bytes = _bytes,
                Capacity = _capacity,
                MaxBytes = MaxBytes,
                BlockedWriters = _writers.Count,
                WaitingReaders = _readers.Count,
                OldestItemAge = _queue.Count == 0 ? TimeSpan.Zero : Elapsed(_queue.PeekHead().EnqueuedAt, now),
                IsWriterCompleted = _writerCompleted,
            };
        }
    }

    /// <summary>
    /// The buffer's clock for item age and blocked time. With the system clock it is <see cref="Environment.TickCount64"/>
    /// (milliseconds, a few nanoseconds to read, where a <see cref="TimeProvider"/> timestamp costs tens): ages are
    /// reported in seconds, so millisecond resolution loses nothing. A test clock is read through the provider.
    /// </summary>
    private long Now() => _systemClock ? Environment.TickCount64 : _time.GetTimestamp();

    private TimeSpan Elapsed(long from, long to) => _systemClock ? TimeSpan.FromMilliseconds(to - from) : _time.GetElapsedTime(from, to);

    private long SizeOf(T item)
    {
        if (_sizeOf is null)
        {
            return 0;
        }

        var size = _sizeOf(item);
        if (size < 0)
        {
            throw new InvalidOperationException($"The size function of buffer '{Name}' returned {size}; sizes must not be negative.");
        }

        return size;
    }

    private bool Fits(int count, long bytes) => _capacity - _queue.Count >= count && _maxBytes - _bytes >= bytes;

    private void EnqueueLocked(T item, long size, long now)
    {
        _queue.Enqueue(new Entry(item, size, now));
        _bytes += size;
        _counters.Written++;
    }

    private Entry DequeueLocked()
    {
        var entry = _queue.Dequeue();
        _bytes -= entry.Size;
        _counters.Read++;
        return entry;
    }

    [Conditional("DEBUG")]
    private void AssertInvariants()
    {
        Debug.Assert(_lock.IsHeldByCurrentThread);
        Debug.Assert(_queue.Count <= _capacity, "count bound exceeded");
        Debug.Assert(_bytes <= _maxBytes && _bytes >= 0, "byte bound exceeded");
        Debug.Assert(_counters.Written == _counters.Read + _queue.Count + _counters.DroppedOldest, "accounting does not balance");
        Debug.Assert(_readers.Count == 0 || _queue.Count == 0, "a reader waits while items are queued");
        Debug.Assert(_writers.Count == 0 || !_writerCompleted, "a writer waits on a completed buffer");
    }

    private void ReportDropped(T item, DropReason reason) => _onDropped?.Invoke(item, reason);

    private void ReportDropped(List<T>? items, DropReason reason) => BufferCounters.Report(_onDropped, items, reason);

    private void ReportDropped(ReadOnlySpan<T> items, DropReason reason) => BufferCounters.Report(_onDropped, items, reason);

    /// <summary>Under the lock: evicts the oldest entries until <paramref name="count"/> items of <paramref name="bytes"/> fit.</summary>
    private void EvictOldestLocked(int count, long bytes, ref List<T>? evicted)
    {
        while (!Fits(count, bytes))
        {
            var entry = _queue.Dequeue();
            _bytes -= entry.Size;
            _counters.DroppedOldest++;
            (evicted ??= []).Add(entry.Item);
        }
    }

    /// <summary>Under the lock: unlinks every waiting reader, to be woken once the lock is released.</summary>
    private Waiter? DetachReadersLocked()
    {
        if (_readers.Count == 0)
        {
            return null;
        }

        Waiter? first = null;
        Waiter? last = null;
        while (_readers.Head is { } r)
        {
            _readers.Remove(r);
            Chain(ref first, ref last, r);
        }

        return first;
    }

    /// <summary>
    /// Under the lock, after room was freed: admits waiting writers in FIFO order while the head fits, moving
    /// their items into the queue. Returns the admitted writers, to be completed once the lock is released.
    /// </summary>
    private Waiter? AdmitWritersLocked(long now)
    {
        Waiter? first = null;
        Waiter? last = null;
        while (_writers.Head is { } w && Fits(w.Count, w.Bytes))
        {
            _writers.Remove(w);
            w.MoveInto(this, now);
            _counters.BlockedTicks += now - w.StartedAt;
            Chain(ref first, ref last, w);
        }

        return first;
    }

    /// <summary>Appends <paramref name="waiter"/>, just unlinked from its list, to the chain to complete once the lock is released.</summary>
    private static void Chain(ref Waiter? first, ref Waiter? last, Waiter waiter)
    {
        if (last is null)
        {
            first = waiter;
        }
        else
        {
            last.Next = waiter;
        }

        last = waiter;
    }

    private static void CompleteChain(Waiter? chain, bool result)
    {
        while (chain is not null)
        {
            // Read the link before completing: once completed, the waiter may be reused and relinked.
            var next = chain.Next;
            chain.Next = null;
            chain.SetResult(result);
            chain = next;
        }
    }

    private static void FailChain(Waiter? chain, Exception error)
    {
        while (chain is not null)
        {
            var next = chain.Next;
            chain.Next = null;
            chain.SetException(error);
            chain = next;
        }
    }

    private void SignalCompletion() => BufferCounters.SignalCompletion(_completion, _completionError);

    private BufferCompletedException CompletedError() => new(Name, _completionError);

    internal readonly record struct Entry(T Item, long Size, long EnqueuedAt);

    private static void ReturnArray(Entry[]? array)
    {
        if (array is not null)
        {
            ArrayPool<Entry>.Shared.Return(array, clearArray: RuntimeHelpersIsReference);
        }
    }

    private static readonly bool RuntimeHelpersIsReference = System.Runtime.CompilerServices.RuntimeHelpers.IsReferenceOrContainsReferences<T>();
}
