using System.Diagnostics;
using Conveyor.Diagnostics;

namespace Conveyor.Durable;

/// <summary>
/// A bounded buffer of byte records kept in segment files, so that what it holds survives a crash. Many writers
/// and many readers; a write completes when its records are durable under the <see cref="FsyncPolicy"/>; a record
/// read stays on disk until it is acknowledged, and after a crash or restart every record not acknowledged is read
/// again, in write order. Opening never refuses a damaged buffer: damaged bytes are skipped, reported in
/// <see cref="Recovery"/> and moved into <c>corrupt/</c>.
/// </summary>
/// <remarks>
/// <para>Invariants, held under <c>_lock</c> and checked by <see cref="AssertInvariants"/> in debug builds:</para>
/// <list type="number">
/// <item><c>_diskBytes</c> is the sum of the <c>Length</c> of the segments in <c>_segments</c>, and at most
/// <c>_maxBytes</c> once the recovered backlog has drained below it: admission is decided under the lock.</item>
/// <item>Segments are in sequence order; all but the last are sealed; for each, <c>Durable ≤ Length</c>, and bytes
/// below <c>Durable</c> are whole records that the flusher has written (and fsynced under <c>Always</c>).</item>
/// <item>The read cursor is in a segment of the list at a record boundary at or below its <c>Durable</c>; every
/// record before it was handed to a reader, evicted, or skipped as acknowledged in an earlier life.</item>
/// <item>A segment leaves the list (and its file is deleted) only when it is sealed, fully durable, behind the
/// cursor, and no record in it is in flight: so no record that was not acknowledged is ever deleted.</item>
/// <item><c>Written = Read + Depth + DroppedOldest</c> (<c>_counters</c>), where Depth counts records admitted or recovered and
/// not yet read; <c>_unacknowledged = Depth + in flight</c>.</item>
/// <item>Writers are admitted in FIFO order: while one waits, a new write does not overtake it.</item>
/// </list>
/// <para>Lock order: <c>_readLock</c> (one reader at a time does file reads) before <c>_lock</c>; file I/O never
/// happens under <c>_lock</c>, and task completions and <see cref="DiskBufferOptions.OnDropped"/> run after it is
/// released.</para>
/// </remarks>
public sealed partial class DiskBuffer : IBufferStatisticsSource, IAsyncDisposable, IDisposable
{
    /// <summary>The folder under the buffer directory that receives the bytes of damaged regions.</summary>
    public const string CorruptFolder = "corrupt";

    private const string LockFileName = "lock";

    private readonly Lock _lock = new();
    private readonly Lock _readLock = new();
    private readonly string _directory;
    private readonly long _maxBytes;
    private readonly long _maxRecords;
    private readonly long _segmentBytes;
    private readonly int _maxPayload;
    private readonly FsyncPolicy _fsync;
    private readonly TimeSpan _interval;
    private readonly FullMode _fullMode;
    private readonly TimeSpan? _blockTimeout;
    private readonly Action<ReadOnlyMemory<byte>, DropReason>? _onDropped;
    private readonly TimeProvider _time;
    private readonly FileStream _lockFile;
    private readonly List<Segment> _segments;
    private readonly InFlightWindow _inFlight = new();
    private readonly LinkedList<BlockedWrite> _blocked = new();
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private long _diskBytes;
    private long _unacknowledged;
    private long _nextSequence;
    private bool _writerCompleted;
    private bool _closed;
    private Exception? _completionError;

    private BufferCounters _counters;
    private long _acknowledged;
    private int _corruptRegions;

    private DiskBuffer(DiskBufferOptions options, FileStream lockFile, Recovered recovered)
    {
        Name = options.Name;
        _directory = Path.GetFullPath(options.Directory);
        _maxBytes = options.MaxDiskBytes;
        _maxRecords = options.MaxRecords ?? long.MaxValue;
        _segmentBytes = options.EffectiveSegmentBytes;
        _maxPayload = options.MaxPayload;
        _fsync = options.Fsync;
        _interval = options.FsyncInterval;
        _fullMode = options.FullMode;
        _blockTimeout = options.BlockTimeout == Timeout.InfiniteTimeSpan ? null : options.BlockTimeout;
        _onDropped = options.OnDropped;
        _time = options.TimeProvider;
        _lockFile = lockFile;
        _segments = recovered.Segments;
        _diskBytes = recovered.Segments.Sum(s => s.Length);
        _nextSequence = recovered.NextSequence;
        _cursor = recovered.Cursor;
        _cursorOffset = recovered.CursorOffset;
        _replayFrom = recovered.ReplayFrom;
        _replayInFlight = recovered.ReplayInFlight;
        _unacknowledged = recovered.Recovery.Replayed;
        _counters.Written = recovered.Recovery.Replayed;
        _corruptRegions = recovered.Recovery.Corrupt.Count;
        Recovery = recovered.Recovery;
        _pendingDone = NewBatchCompletion();
        _lastSync = _lastCheckpoint = _time.GetTimestamp();
        _flusher = Task.Run(FlushLoopAsync);
        BufferMetrics.Register(this);
    }

    /// <summary>
    /// Opens the buffer in <see cref="DiskBufferOptions.Directory"/> (creating it when missing), recovers what a
    /// previous run left, and starts the flusher. Damaged records never make this fail; see <see cref="Recovery"/>.
    /// </summary>
    /// <exception cref="ArgumentException">A setting is invalid; the message names it.</exception>
    /// <exception cref="IOException">The directory cannot be created, read or written (no space, read-only, in use by
    /// another process); the message names the path and the reason.</exception>
    public static DiskBuffer Open(DiskBufferOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var directory = Path.GetFullPath(options.Directory);
        FileStream? lockFile = null;
        try
        {
            System.IO.Directory.CreateDirectory(directory);

            // FileShare.None takes an exclusive advisory lock on Unix: a second process on the same buffer fails here.
            lockFile = new FileStream(Path.Combine(directory, LockFileName), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            var recovered = Recover(options, directory);

            // Writing the checkpoint now proves the directory is writable and has room, before any record is accepted.
            recovered.Checkpoint.Write(directory);
            return new DiskBuffer(options, lockFile, recovered);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            lockFile?.Dispose();
            throw new IOException($"Cannot open the disk buffer at '{directory}': {ex.Message}", ex);
        }
    }

    /// <summary>Reads what is in the buffer at <paramref name="directory"/> without changing it (for <c>inspect</c> and <c>verify</c>).</summary>
    /// <exception cref="IOException">The directory or a file in it cannot be read.</exception>
    public static DiskBufferInspection Inspect(string directory) => InspectCore(Path.GetFullPath(directory));

    /// <summary>The name used to tag this buffer's metrics.</summary>
    public string Name { get; }

    /// <summary>The buffer's directory, as a full path.</summary>
    public string Directory => _directory;

    /// <summary>What opening the buffer found: records replayed and damaged regions skipped (with segment and offset).</summary>
    public DiskBufferRecovery Recovery { get; }

    /// <summary>The fsync policy in force.</summary>
    public FsyncPolicy Fsync => _fsync;

    /// <summary>The policy for writes that do not fit.</summary>
    public FullMode FullMode => _fullMode;

    /// <summary>Completes when writing is completed, every write is on disk and every record has been read; faults with the error given to <see cref="Complete"/>.</summary>
    public Task Completion => _completion.Task;

    /// <summary>
    /// Marks the record at <paramref name="sequence"/> done, whatever became of it downstream. Acknowledgements may
    /// come in any order. Returns false when the record is not in flight (not read yet, already acknowledged, or the
    /// buffer is closed). <see cref="DiskRecord.Acknowledgement"/> calls this when it fires.
    /// </summary>
    public bool Acknowledge(long sequence)
    {
        List<Segment>? deleted;
        List<(BlockedWrite, Task<bool>)>? admitted;
        lock (_lock)
        {
            if (_closed || !_inFlight.TryAcknowledge(sequence))
            {
                return false;
            }

            _unacknowledged--;
            _acknowledged++;
            _checkpointDirty = true;
            deleted = CollectLocked();
            admitted = AdmitWritersLocked();
            AssertInvariants();
        }

        Delete(deleted);
        CompleteAdmitted(admitted);
        return true;
    }

    /// <summary>A consistent snapshot of the counters shared with the memory buffer.</summary>
    public BufferStatistics GetStatistics() => GetDiskStatistics().Buffer;

    /// <summary>A consistent snapshot of every counter.</summary>
    public DiskBufferStatistics GetDiskStatistics()
    {
        var now = _time.GetTimestamp();
        lock (_lock)
        {
            var blocked = _counters.BlockedTicks;
            foreach (var w in _blocked)
            {
                blocked += now - w.StartedAt;
            }

            return new DiskBufferStatistics
            {
                Buffer = _counters.ToStatistics(_time.GetElapsedTime(0, blocked)) with
                {
                    Depth = (int)Math.Min(int.MaxValue, DepthLocked),
                    Bytes = _diskBytes,
                    Capacity = (int)Math.Min(int.MaxValue, _maxRecords),
                    MaxBytes = _maxBytes,
                    BlockedWriters = _blocked.Count,
                    WaitingReaders = _readersWaiting,
                    OldestItemAge = TimeSpan.Zero,
                    IsWriterCompleted = _writerCompleted,
                },
                InFlight = _inFlight.Pending,
                Unacknowledged = _unacknowledged,
                Acknowledged = _acknowledged,
                Segments = _segments.Count,
                Recovered = Recovery.Replayed,
                CorruptRegions = _corruptRegions,
                IsDiskFaulted = _faulted,
                DiskError = _faultMessage,
            };
        }
    }

    /// <summary>
    /// Stops intake: later writes fail, waiting writers get <see cref="BufferCompletedException"/>, and readers drain
    /// what is on disk before <see cref="Completion"/> completes. Records not acknowledged stay on disk for the next
    /// open. Returns false when already completed.
    /// </summary>
    public bool Complete(Exception? error = null)
    {
        List<BlockedWrite> failed = [];
        lock (_lock)
        {
            if (_writerCompleted)
            {
                return false;
            }

            _writerCompleted = true;
            _completionError = error;
            while (_blocked.First is { } node)
            {
                _blocked.RemoveFirst();
                failed.Add(node.Value);
            }

            WakeFlusherLocked();
            AssertInvariants();
        }

        foreach (var w in failed)
        {
            w.Admitted.TrySetException(CompletedError());
        }

        WakeReaders();
        SignalCompletionIfDrained();
        return true;
    }

    /// <summary>Completes writing, writes what is pending, fsyncs (unless <see cref="FsyncPolicy.Never"/>), saves the checkpoint and closes the files.</summary>
    public async ValueTask DisposeAsync()
    {
        Complete();
        lock (_lock)
        {
            _stopping = true;
            WakeFlusherLocked();
        }

        await _flusher.ConfigureAwait(false);
        Close();
    }

    /// <summary>Same as <see cref="DisposeAsync"/>, blocking.</summary>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    /// <summary>
    /// For crash tests: stops as a killed process would, dropping what the flusher has not written, without a final
    /// fsync or checkpoint, and releases the files so the directory can be opened again.
    /// </summary>
    internal void Abandon()
    {
        lock (_lock)
        {
            _abandoned = true;
            _stopping = true;
            _writerCompleted = true;
            WakeFlusherLocked();
        }

        _stop.Cancel();
        try
        {
            _flusher.GetAwaiter().GetResult();
        }
        catch (OperationCanceledException)
        {
        }

        Close();
    }

    private void Close()
    {
        List<Task<bool>> unfinished = [];
        List<BlockedWrite> blocked = [];
        lock (_lock)
        {
            if (_closed)
            {
                return;
            }

            _closed = true;
            foreach (var chunk in _pending)
            {
                chunk.Release();
            }

            _pending.Clear();
            while (_blocked.First is { } node)
            {
                _blocked.RemoveFirst();
                blocked.Add(node.Value);
            }

            foreach (var s in _segments)
            {
                s.Handle?.Dispose();
            }
        }

        _pendingDone.TrySetException(new ObjectDisposedException(nameof(DiskBuffer), "The disk buffer was closed before these records were written."));
        foreach (var w in blocked)
        {
            w.Admitted.TrySetException(CompletedError());
        }

        _lockFile.Dispose();
        _stop.Dispose();
        WakeReaders();
        SignalCompletionIfDrained();
    }

    /// <summary>Records admitted or recovered and not yet read (or evicted).</summary>
    private long DepthLocked => _counters.Written - _counters.Read - _counters.DroppedOldest;

    /// <summary>
    /// Under the lock: removes from the front the segments no record of which can still be needed, and returns them
    /// for their files to be deleted after the lock is released.
    /// </summary>
    private List<Segment>? CollectLocked()
    {
        List<Segment>? deleted = null;
        while (_segments.Count > 1)
        {
            var s = _segments[0];
            var oldest = _inFlight.Oldest;
            if (!s.Sealed || s.Durable != s.Length || ReferenceEquals(_cursor, s) || (oldest is { } o && o <= s.LastSequence))
            {
                break;
            }

            // Now true: the cursor is past s, and no record of s is in flight, so every record of s is done.
            _segments.RemoveAt(0);
            _diskBytes -= s.Length;
            (deleted ??= []).Add(s);
        }

        return deleted;
    }

    private static void Delete(List<Segment>? segments)
    {
        if (segments is null)
        {
            return;
        }

        foreach (var s in segments)
        {
            s.Handle?.Dispose();
            try
            {
                File.Delete(s.Path);
            }
            catch (IOException)
            {
                // A file that cannot be deleted now is found fully acknowledged on the next open and deleted then.
            }
        }
    }

    private BufferCompletedException CompletedError() => new(Name, _completionError);

    private void SignalCompletionIfDrained()
    {
        bool drained;
        lock (_lock)
        {
            drained = _writerCompleted && (_closed || (_unflushedBytes == 0 && !HasReadableLocked()));
        }

        if (!drained)
        {
            return;
        }

        BufferCounters.SignalCompletion(_completion, _completionError);
    }

    private void ReportDropped(IReadOnlyList<ReadOnlyMemory<byte>>? records, DropReason reason) => BufferCounters.Report(_onDropped, records, reason);

    [Conditional("DEBUG")]
    private void AssertInvariants()
    {
        Debug.Assert(_lock.IsHeldByCurrentThread);
        Debug.Assert(_diskBytes == _segments.Sum(s => s.Length), "disk bytes do not match the segments");
        Debug.Assert(DepthLocked >= 0, "more records read than written");
        Debug.Assert(_unacknowledged == DepthLocked + _inFlight.Pending, "unacknowledged records do not balance");
        for (var i = 0; i < _segments.Count; i++)
        {
            var s = _segments[i];
            Debug.Assert(s.Durable <= s.Length, "a segment is durable past its end");
            Debug.Assert(i == _segments.Count - 1 || s.Sealed, "an inner segment is not sealed");
            Debug.Assert(i == 0 || _segments[i - 1].Id < s.Id, "segments out of order");
        }

        Debug.Assert(_cursor is null || _segments.Contains(_cursor), "the cursor is outside the segments");
        Debug.Assert(_cursor is null || _cursorOffset <= _cursor.Durable, "the cursor is past the durable end");
        Debug.Assert(_blocked.Count == 0 || !_writerCompleted, "a writer waits on a completed buffer");
    }
}
