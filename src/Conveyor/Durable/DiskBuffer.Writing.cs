using System.Buffers;

namespace Conveyor.Durable;

public sealed partial class DiskBuffer
{
    /// <summary>Admitted bytes the flusher may hold in memory before writers wait for it: a slow disk back-pressures writers.</summary>
    private const long MaxUnflushedBytes = 16L << 20;

    private enum WriteStatus
    {
        Written,
        Dropped,
        Closed,
        Waiting,
        Evict,
    }

    /// <summary>
    /// Writes <paramref name="record"/>. Completes with true once it is durable under the <see cref="FsyncPolicy"/>;
    /// false when it was dropped, rejected or timed out under the <see cref="FullMode"/> (counted with its reason).
    /// </summary>
    /// <exception cref="OperationCanceledException">The token fired while waiting for room; the record was not written.</exception>
    /// <exception cref="BufferCompletedException">The buffer was completed before or while waiting; the record was not written.</exception>
    /// <exception cref="ObjectDisposedException">The buffer was closed before the record could be written.</exception>
    /// <exception cref="IOException">The disk failed for good while the buffer was closing; the record is not on disk.</exception>
    public ValueTask<bool> WriteAsync(ReadOnlyMemory<byte> record, CancellationToken cancellationToken = default) =>
        WriteAllAsync([record], cancellationToken);

    /// <summary>
    /// Admits <paramref name="record"/> if it fits now, without waiting for room or for the disk: true when admitted
    /// (it becomes durable with the next group commit; a sender that cannot be told, such as UDP, needs no more).
    /// False when it does not fit: under <see cref="FullMode.Block"/> nothing is counted and the caller keeps it;
    /// under the other modes it was dropped and counted. After <see cref="Complete"/>, always false.
    /// </summary>
    public bool TryWrite(ReadOnlyMemory<byte> record)
    {
        ReadOnlyMemory<byte>[] records = [record];
        var size = RecordFormat.EncodedSize(record.Length);
        var status = TryAdmit(records, size, record.Length > _maxPayload, canWait: false, out _, out _);
        if (status == WriteStatus.Evict)
        {
            if (EvictOldest(1, size))
            {
                status = TryAdmit(records, size, tooLarge: false, canWait: false, out _, out _);
            }
            else
            {
                lock (_lock)
                {
                    _counters.Drop(DropReason.DropNewest, 1);
                }

                ReportDropped(records, DropReason.DropNewest);
                return false;
            }
        }

        return status == WriteStatus.Written;
    }

    /// <summary>
    /// Writes all of <paramref name="records"/> or none, in order. Completes with true once all are durable; false
    /// when none were written (dropped, rejected or timed out, counted). A batch larger than the whole buffer, or a
    /// record larger than a segment, is refused as <see cref="DropReason.TooLarge"/>. Exceptions as for <see cref="WriteAsync"/>.
    /// </summary>
    public async ValueTask<bool> WriteAllAsync(IReadOnlyList<ReadOnlyMemory<byte>> records, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(records);
        cancellationToken.ThrowIfCancellationRequested();
        long bytes = 0;
        var tooLarge = false;
        foreach (var r in records)
        {
            tooLarge |= r.Length > _maxPayload;
            bytes += RecordFormat.EncodedSize(r.Length);
        }

        while (true)
        {
            var status = TryAdmit(records, bytes, tooLarge, canWait: true, out var durable, out var waiter);
            switch (status)
            {
                case WriteStatus.Written:
                    return await durable!.ConfigureAwait(false);
                case WriteStatus.Dropped:
                    return false;
                case WriteStatus.Closed:
                    throw CompletedError();
                case WriteStatus.Evict:
                    if (!EvictOldest(records.Count, bytes))
                    {
                        lock (_lock)
                        {
                            _counters.Drop(DropReason.DropNewest, records.Count);
                        }

                        ReportDropped(records, DropReason.DropNewest);
                        return false;
                    }

                    continue;
                default:
                    return await WaitForRoomAsync(waiter!, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private WriteStatus TryAdmit(IReadOnlyList<ReadOnlyMemory<byte>> records, long bytes, bool tooLarge, bool canWait, out Task<bool>? durable, out BlockedWrite? waiter)
    {
        durable = null;
        waiter = null;
        DropReason? dropped = null;
        WriteStatus status;
        lock (_lock)
        {
            if (_writerCompleted || _closed)
            {
                return WriteStatus.Closed;
            }

            if (records.Count == 0)
            {
                durable = Task.FromResult(true);
                return WriteStatus.Written;
            }

            if (tooLarge || records.Count > _maxRecords || bytes > _maxBytes)
            {
                dropped = _counters.Drop(DropReason.TooLarge, records.Count);
                status = WriteStatus.Dropped;
            }
            else if (_blocked.Count == 0 && Fits(records.Count, bytes))
            {
                durable = AppendLocked(records);
                status = WriteStatus.Written;
            }
            else
            {
                switch (_fullMode)
                {
                    case FullMode.Block when !canWait:
                        status = WriteStatus.Dropped;
                        break;
                    case FullMode.Block:
                        waiter = new BlockedWrite(records, bytes, _time.GetTimestamp());
                        waiter.Node = _blocked.AddLast(waiter);
                        status = WriteStatus.Waiting;
                        break;
                    case FullMode.Reject:
                        dropped = _counters.Drop(DropReason.Rejected, records.Count);
                        status = WriteStatus.Dropped;
                        break;
                    case FullMode.DropNewest:
                        dropped = _counters.Drop(DropReason.DropNewest, records.Count);
                        status = WriteStatus.Dropped;
                        break;
                    default:
                        // Eviction frees room only for the count and byte bounds; a failing or lagging disk is not helped by it.
                        status = _faulted || _unflushedBytes + bytes > MaxUnflushedBytes ? WriteStatus.Dropped : WriteStatus.Evict;
                        if (status == WriteStatus.Dropped)
                        {
                            dropped = _counters.Drop(DropReason.DropNewest, records.Count);
                        }

                        break;
                }
            }

            AssertInvariants();
        }

        if (dropped is { } reason)
        {
            ReportDropped(records, reason);
        }

        return status;
    }

    private bool Fits(int count, long bytes) =>
        !_faulted
        && _unacknowledged + count <= _maxRecords
        && _diskBytes + bytes <= _maxBytes
        && (_unflushedBytes == 0 || _unflushedBytes + bytes <= MaxUnflushedBytes);

    /// <summary>
    /// Under the lock: gives the records their sequences and places in the segments, and copies them into the
    /// flusher's pending chunks. Returns the task of the group commit that will make them durable.
    /// </summary>
    private Task<bool> AppendLocked(IReadOnlyList<ReadOnlyMemory<byte>> records)
    {
        foreach (var record in records)
        {
            var size = RecordFormat.EncodedSize(record.Length);
            var active = _segments.Count > 0 && !_segments[^1].Sealed ? _segments[^1] : null;
            if (active is null || (active.Length > 0 && active.Length + size > _segmentBytes))
            {
                active = RollLocked(active);
            }

            var sequence = _nextSequence++;
            var chunk = _pending.Count > 0 && ReferenceEquals(_pending[^1].Segment, active) ? _pending[^1] : null;
            if (chunk is null)
            {
                chunk = new PendingChunk(active, active.Length);
                _pending.Add(chunk);
            }

            chunk.Append(sequence, record.Span);
            active.Length += size;
            active.LastSequence = sequence;
            _diskBytes += size;
            _unflushedBytes += size;
        }

        // Now true: the records are admitted and counted; readers see them once the flusher commits them.
        _unacknowledged += records.Count;
        _counters.Written += records.Count;
        WakeFlusherLocked();
        return _pendingDone.Task;
    }

    private Segment RollLocked(Segment? current)
    {
        if (current is not null)
        {
            current.Sealed = true;
        }

        var id = _nextSequence;
        var segment = new Segment(id, Path.Combine(_directory, Segment.FileName(id)));
        _segments.Add(segment);
        if (_cursor is null)
        {
            _cursor = segment;
            _cursorOffset = 0;
        }

        AdvanceCursorLocked();
        return segment;
    }

    private async ValueTask<bool> WaitForRoomAsync(BlockedWrite waiter, CancellationToken cancellationToken)
    {
        ITimer? timer = null;
        if (_blockTimeout is { } timeout)
        {
            timer = _time.CreateTimer(static s => ((WaitState)s!).Fire(), new WaitState(this, waiter), timeout, Timeout.InfiniteTimeSpan);
        }

        Task<bool>? durable;
        using (cancellationToken.UnsafeRegister(static (s, token) => ((WaitState)s!).Cancel(token), new WaitState(this, waiter)))
        {
            try
            {
                durable = await waiter.Admitted.Task.ConfigureAwait(false);
            }
            finally
            {
                timer?.Dispose();
            }
        }

        return durable is not null && await durable.ConfigureAwait(false);
    }

    /// <summary>Called by a timeout or a cancellation: whoever unlinks the waiter under the lock completes it, exactly once.</summary>
    private void GiveUp(BlockedWrite waiter, CancellationToken? canceled)
    {
        List<(BlockedWrite, Task<bool>)>? admitted;
        lock (_lock)
        {
            if (waiter.Node?.List is null)
            {
                return;
            }

            _blocked.Remove(waiter.Node);
            _counters.BlockedTicks += _time.GetTimestamp() - waiter.StartedAt;
            if (canceled is null)
            {
                _counters.Drop(DropReason.BlockTimeout, waiter.Records.Count);
            }

            // The head may have been a large write holding back smaller ones that fit now.
            admitted = AdmitWritersLocked();
            AssertInvariants();
        }

        if (canceled is { } token)
        {
            waiter.Admitted.TrySetCanceled(token);
        }
        else
        {
            waiter.Admitted.TrySetResult(null);
            ReportDropped(waiter.Records, DropReason.BlockTimeout);
        }

        CompleteAdmitted(admitted);
    }

    /// <summary>Under the lock, after room was freed: admits waiting writers in FIFO order while the head fits.</summary>
    private List<(BlockedWrite, Task<bool>)>? AdmitWritersLocked()
    {
        List<(BlockedWrite, Task<bool>)>? admitted = null;
        while (_blocked.First is { } node && Fits(node.Value.Records.Count, node.Value.Bytes))
        {
            _blocked.RemoveFirst();
            var w = node.Value;
            _counters.BlockedTicks += _time.GetTimestamp() - w.StartedAt;
            (admitted ??= []).Add((w, AppendLocked(w.Records)));
        }

        return admitted;
    }

    private static void CompleteAdmitted(List<(BlockedWrite Writer, Task<bool> Durable)>? admitted)
    {
        if (admitted is null)
        {
            return;
        }

        foreach (var (w, durable) in admitted)
        {
            w.Admitted.TrySetResult(durable);
        }
    }

    private sealed class WaitState(DiskBuffer owner, BlockedWrite waiter)
    {
        public void Fire() => owner.GiveUp(waiter, null);

        public void Cancel(CancellationToken token) => owner.GiveUp(waiter, token);
    }

    /// <summary>A write waiting for room; <see cref="Admitted"/> gets the durability task, or null when it timed out.</summary>
    private sealed class BlockedWrite(IReadOnlyList<ReadOnlyMemory<byte>> records, long bytes, long startedAt)
    {
        public IReadOnlyList<ReadOnlyMemory<byte>> Records { get; } = records;

        public long Bytes { get; } = bytes;

        public long StartedAt { get; } = startedAt;

        public LinkedListNode<BlockedWrite>? Node { get; set; }

        public TaskCompletionSource<Task<bool>?> Admitted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>Encoded records bound for one segment at one offset, waiting for the flusher. Buffers come from the shared pool.</summary>
    private sealed class PendingChunk(Segment segment, long offset)
    {
        private byte[] _buffer = ArrayPool<byte>.Shared.Rent(64 << 10);

        public Segment Segment { get; } = segment;

        public long Offset { get; } = offset;

        public int Length { get; private set; }

        public ReadOnlyMemory<byte> Bytes => _buffer.AsMemory(0, Length);

        public void Append(long sequence, ReadOnlySpan<byte> payload)
        {
            var size = (int)RecordFormat.EncodedSize(payload.Length);
            if (_buffer.Length - Length < size)
            {
                var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, Length + size));
                _buffer.AsSpan(0, Length).CopyTo(bigger);
                ArrayPool<byte>.Shared.Return(_buffer);
                _buffer = bigger;
            }

            RecordFormat.Encode(_buffer.AsSpan(Length, size), sequence, payload);
            Length += size;
        }

        public void Release()
        {
            if (_buffer.Length > 0)
            {
                ArrayPool<byte>.Shared.Return(_buffer);
                _buffer = [];
            }
        }
    }
}
