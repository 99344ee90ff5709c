namespace Conveyor.Durable;

public sealed partial class DiskBuffer
{
    /// <summary>The most bytes one file read takes in (more when one record is larger).</summary>
    private const int ChunkBytes = 1 << 20;

    private readonly long _replayFrom;
    private readonly HashSet<long> _replayInFlight;
    private readonly List<(long Sequence, ReadOnlyMemory<byte> Payload)> _found = [];

    private Segment? _cursor;
    private long _cursorOffset;
    private long _readNext;
    private int _readersWaiting;
    private TaskCompletionSource? _readable;

    // The read-ahead chunk, touched only under _readLock. Each refill is a new array, because records handed out
    // keep slices of the old one.
    private byte[] _chunk = [];
    private Segment? _chunkSegment;
    private long _chunkStart;
    private int _chunkLength;

    /// <summary>Takes the oldest unread record if one is on disk.</summary>
    public bool TryRead(out DiskRecord record)
    {
        var one = new List<DiskRecord>(1);
        long bytes = 0;
        while (TryReadBatch(one, null, 1, long.MaxValue, ref bytes) > 0)
        {
            if (one.Count > 0)
            {
                record = one[0];
                return true;
            }
        }

        record = default;
        return false;
    }

    /// <summary>
    /// Waits until a record can be read (true) or the buffer is completed and drained or closed (false). Takes
    /// nothing, so cancelling it loses nothing.
    /// </summary>
    public async ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken = default)
    {
        while (true)
        {
            var wait = ReadableOrWait(out var result);
            if (wait is null)
            {
                return result;
            }

            try
            {
                await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                lock (_lock)
                {
                    _readersWaiting--;
                }
            }
        }
    }

    /// <summary>
    /// Reads a batch into <paramref name="destination"/> and returns how many records were added: it waits for a first
    /// record, then returns as soon as <paramref name="maxItems"/> or <paramref name="maxBytes"/> (of payload) is
    /// reached or <paramref name="linger"/> has passed since the first. A batch exceeds <paramref name="maxBytes"/> only
    /// when its first record alone does. Returns 0 only when the buffer is completed and drained, or closed.
    /// </summary>
    /// <remarks>Cancellation never loses records: a token that fires while the batch holds some returns the batch;
    /// <see cref="OperationCanceledException"/> is thrown only while it holds none.</remarks>
    public async ValueTask<int> ReadBatchAsync(List<DiskRecord> destination, int maxItems, long maxBytes, TimeSpan linger, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxItems, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBytes, 1);
        var start = destination.Count;
        long batchBytes = 0;
        while (destination.Count == start)
        {
            if (TryReadBatch(destination, null, maxItems, maxBytes, ref batchBytes) == 0
                && !await WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                return 0;
            }
        }

        var firstAt = _time.GetTimestamp();
        while (linger > TimeSpan.Zero && destination.Count - start < maxItems && batchBytes < maxBytes)
        {
            if (TryReadBatch(destination, null, maxItems - (destination.Count - start), maxBytes, ref batchBytes) > 0)
            {
                continue;
            }

            var left = linger - _time.GetElapsedTime(firstAt);
            if (left <= TimeSpan.Zero || cancellationToken.IsCancellationRequested)
            {
                break;
            }

            var wait = ReadableOrWait(out var more);
            if (wait is null)
            {
                if (!more)
                {
                    break;
                }

                continue;
            }

            try
            {
                using var cancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                var delay = Task.Delay(left, _time, cancel.Token);
                await Task.WhenAny(wait, delay).ConfigureAwait(false);
                await cancel.CancelAsync().ConfigureAwait(false);
            }
            finally
            {
                lock (_lock)
                {
                    _readersWaiting--;
                }
            }
        }

        return destination.Count - start;
    }

    /// <summary>Reads a batch bounded by count only into a new list; an empty list means completed.</summary>
    public async ValueTask<IReadOnlyList<DiskRecord>> ReadBatchAsync(int maxItems, TimeSpan linger, CancellationToken cancellationToken = default)
    {
        var batch = new List<DiskRecord>(Math.Min(maxItems, 1024));
        await ReadBatchAsync(batch, maxItems, long.MaxValue, linger, cancellationToken).ConfigureAwait(false);
        return batch;
    }

    /// <summary>Null with <paramref name="result"/> when there is an answer now; otherwise a task that completes when records may have arrived (the caller then decrements <c>_readersWaiting</c>).</summary>
    private Task? ReadableOrWait(out bool result)
    {
        lock (_lock)
        {
            if (HasReadableLocked())
            {
                result = true;
                return null;
            }

            if (_closed || (_writerCompleted && _unflushedBytes == 0))
            {
                result = false;
                return null;
            }

            result = false;
            _readersWaiting++;
            _readable ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _readable.Task;
        }
    }

    private void WakeReaders()
    {
        TaskCompletionSource? readable;
        lock (_lock)
        {
            readable = _readable;
            _readable = null;
        }

        readable?.TrySetResult();
    }

    /// <summary>
    /// Scans records from the cursor (within one segment) into <paramref name="destination"/> (handed out, in
    /// flight) or, when evicting, into <paramref name="evicted"/> (counted as dropped). Records acknowledged in an
    /// earlier life are skipped. Returns how many records the cursor passed, skipped ones included; 0 means none
    /// is readable now.
    /// </summary>
    private int TryReadBatch(List<DiskRecord>? destination, List<ReadOnlyMemory<byte>>? evicted, int maxItems, long maxBytes, ref long batchBytes)
    {
        List<Segment>? deleted = null;
        List<(BlockedWrite, Task<bool>)>? admitted = null;
        int scanned;
        bool completed;
        lock (_readLock)
        {
            Segment segment;
            long position, end;
            lock (_lock)
            {
                if (_closed || !HasReadableLocked())
                {
                    return 0;
                }

                segment = _cursor!;
                position = _cursorOffset;
                end = segment.Durable;
            }

            _found.Clear();
            var readNext = -1L;
            var taken = 0;
            var corrupt = 0;
            while (taken < maxItems && position < end)
            {
                var span = ChunkAt(segment, position, end, RecordFormat.HeaderSize);
                var status = RecordFormat.Parse(span, _maxPayload, out var sequence, out var size, out _);
                if (status == ParseStatus.Incomplete && size <= end - position)
                {
                    span = ChunkAt(segment, position, end, size);
                    status = RecordFormat.Parse(span, _maxPayload, out sequence, out size, out _);
                }

                if (status != ParseStatus.Valid)
                {
                    // Bytes that changed on disk after they were verified: skip to the next valid record of this read.
                    corrupt++;
                    var next = RecordFormat.FindNextValid(span, 1, _maxPayload);
                    position = next >= 0 ? position + next : span.IsEmpty ? end : Math.Min(end, position + span.Length);
                    continue;
                }

                var payloadLength = size - RecordFormat.HeaderSize;
                var live = sequence >= _replayFrom || _replayInFlight.Contains(sequence);
                if (live)
                {
                    if (taken > 0 && maxBytes - batchBytes < payloadLength)
                    {
                        break;
                    }

                    batchBytes += payloadLength;
                    taken++;
                }

                var at = (int)(position - _chunkStart);
                _found.Add((live ? sequence : -1, _chunk.AsMemory(at + RecordFormat.HeaderSize, payloadLength)));
                readNext = sequence + 1;
                position += size;
            }

            scanned = _found.Count;
            lock (_lock)
            {
                foreach (var (sequence, payload) in _found)
                {
                    if (sequence < 0)
                    {
                        continue;
                    }

                    if (evicted is not null)
                    {
                        _counters.DroppedOldest++;
                        _unacknowledged--;
                        evicted.Add(payload);
                    }
                    else
                    {
                        _inFlight.Add(sequence);
                        _counters.Read++;
                        var s = sequence;
                        destination!.Add(new DiskRecord(sequence, payload, Acknowledgement.Create(1, _ => Acknowledge(s))));
                    }
                }

                // Now true: every record before `position` was handed out (and is in flight), evicted or skipped, so
                // a checkpoint taken from here on may say so.
                _cursorOffset = position;
                _readNext = Math.Max(_readNext, readNext);
                _corruptRegions += corrupt;
                _checkpointDirty = true;
                AdvanceCursorLocked();
                if (evicted is not null)
                {
                    deleted = CollectLocked();
                    admitted = AdmitWritersLocked();
                }

                completed = _writerCompleted && _unflushedBytes == 0 && !HasReadableLocked();
                AssertInvariants();
            }

            _found.Clear();
            scanned = Math.Max(scanned, corrupt);
        }

        Delete(deleted);
        CompleteAdmitted(admitted);
        if (completed)
        {
            SignalCompletionIfDrained();
        }

        return scanned;
    }

    /// <summary>
    /// Under the read lock: the durable bytes from <paramref name="position"/> to the end of the chunk, refilling the
    /// chunk from the file when fewer than <paramref name="need"/> bytes are there.
    /// </summary>
    private ReadOnlySpan<byte> ChunkAt(Segment segment, long position, long end, int need)
    {
        var inChunk = ReferenceEquals(_chunkSegment, segment) && position >= _chunkStart && position - _chunkStart + need <= _chunkLength;
        if (!inChunk)
        {
            var length = (int)Math.Min(end - position, Math.Max(ChunkBytes, need));
            _chunk = new byte[length];
            _chunkLength = SegmentScanner.ReadFully(segment.Handle!, _chunk, position);
            _chunkSegment = segment;
            _chunkStart = position;
        }

        var from = (int)(position - _chunkStart);
        var until = (int)Math.Min(_chunkLength, end - _chunkStart);
        return _chunk.AsSpan(from, Math.Max(0, until - from));
    }

    /// <summary>Under the lock: moves the cursor past the ends of sealed, fully written segments.</summary>
    private void AdvanceCursorLocked()
    {
        while (_cursor is { } c && c.Sealed && _cursorOffset >= c.Length && c.Durable == c.Length)
        {
            var i = _segments.IndexOf(c);
            if (i < 0 || i + 1 >= _segments.Count)
            {
                break;
            }

            _cursor = _segments[i + 1];
            _cursorOffset = 0;
        }
    }

    private bool HasReadableLocked()
    {
        AdvanceCursorLocked();
        return _cursor is not null && _cursorOffset < _cursor.Durable;
    }

    /// <summary>Under DropOldest: evicts unread records, oldest first, until the write fits; false when nothing more can be evicted.</summary>
    private bool EvictOldest(int count, long bytes)
    {
        while (true)
        {
            lock (_lock)
            {
                if (Fits(count, bytes))
                {
                    return true;
                }
            }

            var evicted = new List<ReadOnlyMemory<byte>>();
            long ignored = 0;
            var scanned = TryReadBatch(null, evicted, int.MaxValue, long.MaxValue, ref ignored);
            ReportDropped(evicted, DropReason.DropOldest);
            if (scanned == 0)
            {
                lock (_lock)
                {
                    return Fits(count, bytes);
                }
            }
        }
    }
}
