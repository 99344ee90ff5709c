using Conveyor.Logs.Pipeline;
using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.InteropServices;
using Conveyor.Logs.Model;
using Conveyor.Logs.Parsing;

namespace Conveyor.Logs.Sources.Framing;

/// <summary>Reads the next frame off the front of a buffer (<see cref="LineFramer"/> or <see cref="SyslogFramer"/>).</summary>
internal delegate FrameStatus FrameReader(ref ReadOnlySequence<byte> buffer, out ReadOnlySequence<byte> frame);

/// <summary>Why a framed stream stopped.</summary>
internal enum StreamEnd
{
    /// <summary>The sender closed its side (or the file/stdin ended).</summary>
    Eof,

    /// <summary>Nothing arrived within the idle timeout.</summary>
    Idle,

    /// <summary>The service is stopping; every frame read was handed to the buffer.</summary>
    Stopped,

    /// <summary>The drain deadline passed while a frame waited for room; it was counted as dropped.</summary>
    Abandoned,

    /// <summary>The buffer refused more (completed).</summary>
    Closed,
}

/// <summary>
/// The loop every stream source shares: read from a <see cref="PipeReader"/>, cut frames, copy each into a
/// <see cref="RawLine"/> and await room in the main buffer before reading on, so a full buffer slows the sender
/// through TCP flow control instead of growing memory.
/// </summary>
internal sealed class FramedStream
{
    public required SourceInfo Source { get; init; }

    public required LineIntake Output { get; init; }

    public required FrameReader Framer { get; init; }

    /// <summary>Builds a record's id from its 1-based frame number and the byte offset where it starts.</summary>
    public required Func<long, long, string> IdFor { get; init; }

    public required TimeProvider Time { get; init; }

    public required int MaxFrameBytes { get; init; }

    /// <summary>Close after this long without data; null for none (files, stdin).</summary>
    public TimeSpan? IdleTimeout { get; init; }

    /// <summary>
    /// After <c>stopReading</c> fires, read on until the sender ends, nothing arrives for this long, or the drain
    /// deadline passes: bytes a sender wrote before the stop are read and stored instead of being reset with the
    /// socket (the sender would see EPIPE). Null (files, stdin): stop reading at once.
    /// </summary>
    public TimeSpan? DrainIdle { get; init; }

    /// <summary>
    /// With <see cref="DrainIdle"/>: fires when reading on after the stop must end even though the sender keeps
    /// writing (the read-on deadline); the frames of the read in hand still go to the buffer.
    /// </summary>
    public CancellationToken ReadOnEnded { get; init; }

    /// <summary>The byte offset of the first byte the reader yields (a file resumed from a checkpoint).</summary>
    public long StartOffset { get; init; }

    /// <summary>Frames handed to the buffer so far.</summary>
    public long Frames { get; private set; }

    /// <summary>The offset just past the last frame handed to the buffer: where a restart resumes.</summary>
    public long Offset { get; private set; }

    /// <summary>Called when a read returned bytes, before its frames go to the buffer (which may wait for room).</summary>
    public Action? OnData { get; init; }

    /// <summary>Called after each read's frames are all in the buffer, with <see cref="Offset"/>.</summary>
    public Action<long>? OnCommitted { get; init; }

    /// <summary>Runs when every frame of one read is finished with (stored, dead-lettered, dropped or failed at every sink).</summary>
    public Action<DeliveryOutcome>? OnAcknowledged { get; init; }

    public async Task<StreamEnd> RunAsync(PipeReader reader, CancellationToken stopReading, CancellationToken abandon)
    {
        ArgumentNullException.ThrowIfNull(reader);
        Offset = StartOffset;
        using var idle = new CancellationTokenSource(Timeout.InfiniteTimeSpan, Time);

        // The idle timer runs only while a read waits for the sender: a wait for room in a full buffer is no silence
        // of the sender's, and the drain linger armed then would end a read-on whose sender is still writing. The
        // gate orders the stop's arming against the loop's, so the linger is armed exactly when a read waits (the
        // token reads as stopped before its callback runs, so a loop that sees it arms the linger itself).
        var gate = new object();
        var reading = false;
        using var link = stopReading.Register(() =>
        {
            if (DrainIdle is { } linger)
            {
                lock (gate)
                {
                    // From now on the idle timeout is the drain linger; a read already waiting gets it too.
                    if (reading)
                    {
                        idle.CancelAfter(linger);
                    }
                }
            }
            else
            {
                idle.Cancel();
            }
        });
        using var deadline = abandon.Register(static s => ((CancellationTokenSource)s!).Cancel(), idle);

        // A cancelled idle source stays cancelled (CancelAfter cannot revive it), so the next read ends the stream.
        using var readOnEnded = ReadOnEnded.Register(static s => ((CancellationTokenSource)s!).Cancel(), idle);
        var batch = new List<RawLine>(64);
        while (true)
        {
            ReadResult result;
            try
            {
                lock (gate)
                {
                    reading = true;
                    if ((stopReading.IsCancellationRequested ? DrainIdle : IdleTimeout) is { } t)
                    {
                        idle.CancelAfter(t);
                    }
                }

                result = await reader.ReadAsync(idle.Token).ConfigureAwait(false);
                lock (gate)
                {
                    reading = false;
                    idle.CancelAfter(Timeout.InfiniteTimeSpan);
                }
            }
            catch (OperationCanceledException)
            {
                return stopReading.IsCancellationRequested ? StreamEnd.Stopped : StreamEnd.Idle;
            }

            var buffer = result.Buffer;
            OnData?.Invoke();

            // The lines of one read arrived together: one clock reading stamps them all.
            var receivedAt = Time.GetUtcNow();
            var bufferStart = Offset;
            var initial = buffer.Length;
            while (true)
            {
                var frameStart = bufferStart + (initial - buffer.Length);
                var status = Framer(ref buffer, out var frame);
                if (status == FrameStatus.NeedMoreData)
                {
                    break;
                }

                batch.Add(Make(frame, frameStart, status == FrameStatus.Oversized, receivedAt));
            }

            if (result.IsCompleted && !buffer.IsEmpty)
            {
                // The stream ended without a final terminator: what is left is the last record, not garbage.
                var frameStart = bufferStart + (initial - buffer.Length);
                var tooLong = buffer.Length > MaxFrameBytes;
                batch.Add(Make(tooLong ? buffer.Slice(0, Math.Min(MaxFrameBytes, RawLine.EvidenceBytes)) : buffer, frameStart, tooLong, receivedAt));
                buffer = buffer.Slice(buffer.End);
            }

            var consumed = initial - buffer.Length;
            reader.AdvanceTo(buffer.Start, buffer.End);
            RawLine.Acknowledge(batch, OnAcknowledged);
            var end = await WriteAsync(batch, abandon).ConfigureAwait(false);
            batch.Clear();
            if (end is { } stop)
            {
                return stop;
            }

            Offset = bufferStart + consumed;
            OnCommitted?.Invoke(Offset);
            if (result.IsCompleted)
            {
                return StreamEnd.Eof;
            }
        }
    }

    private RawLine Make(in ReadOnlySequence<byte> frame, long offset, bool oversized, DateTimeOffset receivedAt)
    {
        Frames++;
        var id = IdFor(Frames, offset);
        if (oversized)
        {
            return new RawLine(frame.ToArray(), Source, id, receivedAt, RawLine.OversizedReason(MaxFrameBytes));
        }

        return new RawLine(frame.ToArray(), Source, id, receivedAt);
    }

    private async ValueTask<StreamEnd?> WriteAsync(List<RawLine> batch, CancellationToken abandon)
    {
        var (_, end) = await AdmitAsync(batch, Source, Output, abandon).ConfigureAwait(false);
        return end;
    }

    /// <summary>
    /// Writes <paramref name="lines"/> one by one, waiting for room, and counts each outcome on the source. Returns how
    /// many were handed over (admitted or dropped by the buffer's policy) before the deadline or completion stopped it;
    /// the rest are counted as dropped, and their acknowledgement references completed as <see cref="DeliveryOutcome.Dropped"/>
    /// (a line the buffer dropped by its policy is completed by the buffer's drop callback).
    /// </summary>
    internal static async ValueTask<(int Written, StreamEnd? End)> AdmitAsync(List<RawLine> lines, SourceInfo source, LineIntake output, CancellationToken abandon)
    {
        if (lines.Count == 0)
        {
            return (0, null);
        }

        source.OnReceived(lines.Count);
        if (output.IsDurable)
        {
            return await AdmitDurableAsync(lines, source, output, abandon).ConfigureAwait(false);
        }

        // The common case, room for the whole read: one lock and one wake of a parse worker, which then takes the read
        // as one batch. Written line by line, the first line woke a worker that parsed a batch of one or two while the
        // rest were still being written. Without room, line by line under the buffer's policy, as before.
        if (output.TryWriteAllIfRoom(CollectionsMarshal.AsSpan(lines)))
        {
            source.OnAdmitted(lines.Count);
            return (lines.Count, null);
        }

        for (var i = 0; i < lines.Count; i++)
        {
            try
            {
                if (await output.WriteAsync(lines[i], abandon).ConfigureAwait(false))
                {
                    source.OnAdmitted(1);
                }
                else
                {
                    source.OnDropped(1);
                }
            }
            catch (OperationCanceledException)
            {
                NotAdmitted(lines, i, source);
                return (i, StreamEnd.Abandoned);
            }
            catch (BufferCompletedException)
            {
                NotAdmitted(lines, i, source);
                return (i, StreamEnd.Closed);
            }
        }

        return (lines.Count, null);
    }

    /// <summary>
    /// Durable mode: the lines of one read go to disk as one batch (one group commit instead of one per line), and
    /// count as admitted only once the write returned, that is, once they are on disk.
    /// </summary>
    private static async ValueTask<(int Written, StreamEnd? End)> AdmitDurableAsync(List<RawLine> lines, SourceInfo source, LineIntake output, CancellationToken abandon)
    {
        try
        {
            if (await output.WriteAllAsync(lines, abandon).ConfigureAwait(false))
            {
                source.OnAdmitted(lines.Count);
            }
            else
            {
                source.OnDropped(lines.Count);
            }

            return (lines.Count, null);
        }
        catch (OperationCanceledException)
        {
            NotAdmitted(lines, 0, source);
            return (0, StreamEnd.Abandoned);
        }
        catch (BufferCompletedException)
        {
            NotAdmitted(lines, 0, source);
            return (0, StreamEnd.Closed);
        }
    }

    /// <summary>Counts lines from <paramref name="from"/> on as dropped at the source and completes their references.</summary>
    internal static void NotAdmitted(List<RawLine> lines, int from, SourceInfo source)
    {
        source.OnDropped(lines.Count - from);
        for (var j = from; j < lines.Count; j++)
        {
            lines[j].Ack?.Complete(DeliveryOutcome.Dropped);
        }
    }
}
