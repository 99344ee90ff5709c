namespace Conveyor.Durable;

public sealed partial class DiskBuffer
{
    private static readonly TimeSpan FirstRetryDelay = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan LastRetryDelay = TimeSpan.FromSeconds(2);

    private readonly CancellationTokenSource _stop = new();
    private readonly Task _flusher;

    // Guarded by _lock: what writers admitted since the flusher last took its batch.
    private List<PendingChunk> _pending = [];
    private TaskCompletionSource<bool> _pendingDone;
    private long _unflushedBytes;
    private bool _wakeRequested;
    private TaskCompletionSource _wake = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _stopping;
    private bool _abandoned;
    private bool _faulted;
    private string? _faultMessage;
    private bool _checkpointDirty;

    // Touched by the flusher only.
    private readonly HashSet<Segment> _unsynced = [];
    private long _lastSync;
    private long _lastCheckpoint;

    private static TaskCompletionSource<bool> NewBatchCompletion() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private void WakeFlusherLocked()
    {
        if (!_wakeRequested)
        {
            _wakeRequested = true;
            _wake.TrySetResult();
        }
    }

    /// <summary>
    /// The one task that writes files: it takes what writers admitted as one batch (group commit), writes it at the
    /// offsets admission gave it, fsyncs under the policy, then makes the records visible to readers and completes the
    /// writers. A batch that fails (no space, I/O error) is kept and retried with growing delays while writers are
    /// held back, so nothing admitted is lost or reordered and the buffer recovers by itself when the disk does.
    /// </summary>
    private async Task FlushLoopAsync()
    {
        (List<PendingChunk> Chunks, TaskCompletionSource<bool> Done)? batch = null;
        var delay = FirstRetryDelay;
        while (true)
        {
            bool stopping;
            Task wake;
            lock (_lock)
            {
                if (_abandoned)
                {
                    batch?.Done.TrySetException(new ObjectDisposedException(nameof(DiskBuffer), "The disk buffer was abandoned before these records were written."));
                    return;
                }

                if (batch is null && _pending.Count > 0)
                {
                    batch = (_pending, _pendingDone);
                    _pending = [];
                    _pendingDone = NewBatchCompletion();
                }

                stopping = _stopping;
                _wakeRequested = false;
                if (_wake.Task.IsCompleted)
                {
                    _wake = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                }

                wake = _wake.Task;
            }

            if (batch is { } b)
            {
                try
                {
                    WriteBatch(b.Chunks);
                    Commit(b.Chunks, b.Done);
                    batch = null;
                    delay = FirstRetryDelay;
                    continue;
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    lock (_lock)
                    {
                        _faulted = true;
                        _faultMessage = ex.Message;
                    }

                    if (stopping)
                    {
                        // Closing with a disk that still fails: the writers learn that their records are not on disk.
                        b.Done.TrySetException(ex);
                        Forget(b.Chunks);
                        batch = null;
                        continue;
                    }

                    await DelayAsync(delay).ConfigureAwait(false);
                    delay = TimeSpan.FromTicks(Math.Min(LastRetryDelay.Ticks, delay.Ticks * 2));
                    continue;
                }
            }

            var now = _time.GetTimestamp();
            SyncIfDue(now, stopping);
            CheckpointIfDue(now, stopping);
            if (stopping)
            {
                lock (_lock)
                {
                    if (_pending.Count == 0)
                    {
                        return;
                    }
                }

                continue;
            }

            var due = NextDue(now);
            try
            {
                if (due is { } d)
                {
                    using var cancel = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                    await Task.WhenAny(wake, Task.Delay(d, _time, cancel.Token)).ConfigureAwait(false);
                    await cancel.CancelAsync().ConfigureAwait(false);
                }
                else
                {
                    await wake.WaitAsync(_stop.Token).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException)
            {
                // Abandoned: the next turn sees it.
            }
        }
    }

    private async Task DelayAsync(TimeSpan delay)
    {
        try
        {
            await Task.Delay(delay, _time, _stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Abandoned: the next turn sees it.
        }
    }

    private void WriteBatch(List<PendingChunk> chunks)
    {
        foreach (var chunk in chunks)
        {
            var segment = chunk.Segment;
            segment.Handle ??= File.OpenHandle(segment.Path, FileMode.Create, FileAccess.ReadWrite, FileShare.Read | FileShare.Delete);

            // The offset is fixed at admission, so a retry after a failed (possibly partial) write rewrites the same bytes.
            RandomAccess.Write(segment.Handle, chunk.Bytes.Span, chunk.Offset);
            if (_fsync != FsyncPolicy.Never)
            {
                _unsynced.Add(segment);
            }
        }

        if (_fsync == FsyncPolicy.Always)
        {
            SyncAll();
        }
    }

    private void Commit(List<PendingChunk> chunks, TaskCompletionSource<bool> done)
    {
        List<Segment>? deleted;
        List<(BlockedWrite, Task<bool>)>? admitted;
        lock (_lock)
        {
            foreach (var chunk in chunks)
            {
                // Now true: these bytes are whole records, durable under the policy, so readers may see them.
                chunk.Segment.Durable = Math.Max(chunk.Segment.Durable, chunk.Offset + chunk.Length);
                _unflushedBytes -= chunk.Length;
            }

            _faulted = false;
            _faultMessage = null;
            AdvanceCursorLocked();
            deleted = CollectLocked();
            admitted = AdmitWritersLocked();
            AssertInvariants();
        }

        Forget(chunks);
        done.TrySetResult(true);
        Delete(deleted);
        CompleteAdmitted(admitted);
        WakeReaders();
        SignalCompletionIfDrained();
    }

    private static void Forget(List<PendingChunk> chunks)
    {
        foreach (var chunk in chunks)
        {
            chunk.Release();
        }
    }

    private TimeSpan? NextDue(long now)
    {
        TimeSpan? due = null;
        if (_unsynced.Count > 0 && _fsync == FsyncPolicy.Interval)
        {
            due = _interval - _time.GetElapsedTime(_lastSync, now);
        }

        bool dirty;
        lock (_lock)
        {
            dirty = _checkpointDirty;
        }

        if (dirty)
        {
            var checkpointDue = _interval - _time.GetElapsedTime(_lastCheckpoint, now);
            due = due is { } d && d < checkpointDue ? d : checkpointDue;
        }

        return due is { } t ? (t > TimeSpan.Zero ? t : TimeSpan.FromMilliseconds(1)) : null;
    }

    private void SyncIfDue(long now, bool stopping)
    {
        if (_unsynced.Count > 0 && (stopping || _time.GetElapsedTime(_lastSync, now) >= _interval))
        {
            try
            {
                SyncAll();
            }
            catch (IOException ex)
            {
                // Written but not yet forced out: kept in _unsynced and tried again next interval.
                lock (_lock)
                {
                    _faultMessage = ex.Message;
                }
            }

            _lastSync = now;
        }
    }

    private void SyncAll()
    {
        foreach (var segment in _unsynced)
        {
            try
            {
                RandomAccess.FlushToDisk(segment.Handle!);
            }
            catch (ObjectDisposedException)
            {
                // Deleted meanwhile: every record in it was acknowledged, nothing to keep.
            }
        }

        _unsynced.Clear();
    }

    private void CheckpointIfDue(long now, bool stopping)
    {
        Checkpoint checkpoint;
        lock (_lock)
        {
            if (!_checkpointDirty || (!stopping && _time.GetElapsedTime(_lastCheckpoint, now) < _interval))
            {
                return;
            }

            _checkpointDirty = false;
            checkpoint = CheckpointLocked();
        }

        try
        {
            checkpoint.Write(_directory);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // A checkpoint not written only means acknowledged records may be replayed after a crash.
            lock (_lock)
            {
                _checkpointDirty = true;
            }
        }

        _lastCheckpoint = now;
    }

    /// <summary>Under the lock: what may be claimed as acknowledged now (see <see cref="Checkpoint"/>).</summary>
    private Checkpoint CheckpointLocked()
    {
        var inFlight = _inFlight.Unacknowledged();
        foreach (var s in _replayInFlight)
        {
            if (s >= _readNext)
            {
                inFlight.Add(s);
            }
        }

        inFlight.Sort();
        return new Checkpoint(_nextSequence, Math.Max(_readNext, _replayFrom), inFlight);
    }
}
