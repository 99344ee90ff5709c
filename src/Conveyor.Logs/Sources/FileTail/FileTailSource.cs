using System.Buffers;
using System.Text.Json;
using Conveyor.Logs.Configuration;
using Conveyor.Logs.Model;
using Conveyor.Logs.Parsing;
using Conveyor.Logs.Sources.Framing;
using Microsoft.Extensions.Logging;

namespace Conveyor.Logs.Sources.FileTail;

/// <summary>
/// Tails every file matching a glob (<c>file:///var/log/nginx/*.log</c>): new files are picked up, a file renamed
/// away (rotation) is read to its end before its successor is read from the start, a file that shrinks
/// (truncation, copytruncate) is read again from the start, and offsets are checkpointed atomically (temp file +
/// rename) so a restart resumes after the last line every sink has finished with. Ids are <c>path:generation:byte-offset</c>, stable
/// across restarts, so a line re-read after a crash is stored once (sinks are idempotent on ids); the generation
/// counts the rotations and truncations seen at that path, so new lines at old offsets never collide with old ids.
/// </summary>
/// <remarks>
/// A file is recognised by its first bytes (up to 64): a file at the same path whose first bytes differ is a new
/// file. Every chunk read carries one acknowledgement; the checkpoint of a file moves to the end of a chunk only
/// when that chunk and every chunk before it have fired (stored, dead-lettered or dropped and counted at every sink),
/// not when its lines enter memory. So after a crash a restart reads again every line not yet finished with (ids
/// make the replay idempotent). A chunk that failed for good (a sink gave up on it, or the drain deadline left it)
/// holds the checkpoint where it is for the rest of the run, so the next run reads it again.
/// </remarks>
public sealed partial class FileTailSource : LogSource
{
    private const int FingerprintBytes = 64;
    private readonly Dictionary<string, TailedFile> _files = new(StringComparer.Ordinal);
    private readonly string _directory;
    private readonly string _pattern;
    private readonly string _checkpointPath;
    private Dictionary<string, Checkpoint> _checkpoints = new(StringComparer.Ordinal);

    /// <summary>Creates the source; <see cref="LogSource.StartAsync"/> loads its checkpoint.</summary>
    public FileTailSource(SourceOptions options, SourceInfo info, BufferWriter<RawLine> output, ILogger logger, TimeProvider time)
        : base(options, info, output, logger, time)
    {
        var full = System.IO.Path.GetFullPath(options.Path!);
        _directory = System.IO.Path.GetDirectoryName(full) ?? "/";
        _pattern = System.IO.Path.GetFileName(full);
        _checkpointPath = System.IO.Path.Combine(options.CheckpointDirectory, info.Name + ".checkpoint.json");
    }

    /// <inheritdoc />
    protected override Task BindAsync(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(Options.CheckpointDirectory);
        if (File.Exists(_checkpointPath))
        {
            _checkpoints = JsonSerializer.Deserialize<Dictionary<string, Checkpoint>>(File.ReadAllText(_checkpointPath)) ?? _checkpoints;
        }

        LogTailing(Logger, Info.Name, System.IO.Path.Combine(_directory, _pattern), _checkpoints.Count);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    protected override async Task RunAsync()
    {
        try
        {
            while (!StopReading.IsCancellationRequested)
            {
                var progressed = await PollAsync().ConfigureAwait(false);
                if (!progressed && AdvanceAcknowledged())
                {
                    SaveCheckpoint();
                }

                if (!progressed)
                {
                    try
                    {
                        await Task.Delay(Options.PollInterval, Time, StopReading).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        break;
                    }
                }
            }
        }
        finally
        {
            AdvanceAcknowledged();
            SaveCheckpoint();
            foreach (var f in _files.Values)
            {
                await f.Stream.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// After the pipeline drained (the service disposes sources last), the lines read before the stop have fired:
    /// the final checkpoint records them.
    /// </summary>
    protected override ValueTask OnDisposedAsync()
    {
        if (AdvanceAcknowledged())
        {
            SaveCheckpoint();
        }

        return default;
    }

    /// <summary>Moves every file's acknowledged offset over the chunks that fired, in order; true when any moved.</summary>
    private bool AdvanceAcknowledged()
    {
        // Runs on the source's own loop, or after it ended: never concurrently with it. Only the acknowledgements'
        // state is read across threads, and that is safe to read at any time.
        var moved = false;
        foreach (var f in _files.Values)
        {
            moved |= f.AdvanceAcknowledged();
        }

        return moved;
    }

    /// <summary>One pass over the glob; true when any line was read.</summary>
    private async Task<bool> PollAsync()
    {
        var progressed = false;
        var present = Directory.Exists(_directory)
            ? Directory.EnumerateFiles(_directory, _pattern).Order(StringComparer.Ordinal).ToList()
            : [];
        foreach (var path in present)
        {
            if (!_files.TryGetValue(path, out var file))
            {
                file = Open(path);
                if (file is null)
                {
                    continue;
                }

                _files[path] = file;
            }

            var identity = Identify(path, file);
            if (identity == Change.Replaced)
            {
                // Rotation by rename: our handle still reads the old file; finish it, final partial line included.
                progressed |= await ReadAsync(file, final: true).ConfigureAwait(false);
                await file.Stream.DisposeAsync().ConfigureAwait(false);
                LogRotated(Logger, Info.Name, path);

                // The renamed file cannot be found by its path again, so its unfinished lines are not replayable.
                _checkpoints.Remove(path);
                var successor = Open(path, ignoreCheckpoint: true);
                if (successor is null)
                {
                    _files.Remove(path);
                    continue;
                }

                successor.Generation = file.Generation + 1;
                _files[path] = file = successor;
            }
            else if (identity == Change.Truncated)
            {
                LogTruncated(Logger, Info.Name, path, file.Offset);
                file.Reset();
            }

            progressed |= await ReadAsync(file, final: false).ConfigureAwait(false);
            if (StopReading.IsCancellationRequested)
            {
                return progressed;
            }
        }

        foreach (var gone in _files.Keys.Except(present).ToList())
        {
            // Renamed away without a successor (yet): read what is left, then forget it (its successor, when it appears,
        // continues the generation count through the checkpoint).
            var file = _files[gone];
            progressed |= await ReadAsync(file, final: true).ConfigureAwait(false);
            await file.Stream.DisposeAsync().ConfigureAwait(false);
            _files.Remove(gone);
            file.AdvanceAcknowledged();
            _checkpoints[gone] = new Checkpoint(file.Acknowledged, Convert.ToBase64String(file.Fingerprint), file.Generation);
        }

        if (progressed)
        {
            SaveCheckpoint();
        }

        return progressed;
    }

    private TailedFile? Open(string path, bool ignoreCheckpoint = false)
    {
        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1, FileOptions.None);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        var file = new TailedFile(path, stream, Options.MaxLineBytes);
        file.Fingerprint = ReadPrefix(stream, FingerprintBytes);
        if (!ignoreCheckpoint && _checkpoints.TryGetValue(path, out var cp))
        {
            if (cp.Offset <= stream.Length && file.Fingerprint.AsSpan().StartsWith(Convert.FromBase64String(cp.Fingerprint)))
            {
                file.Offset = cp.Offset;
                file.Acknowledged = cp.Offset;
                file.Generation = cp.Generation;
            }
            else
            {
                // Replaced or truncated while we were down: a new generation, read from the start.
                file.Generation = cp.Generation + 1;
            }
        }

        return file;
    }

    private static Change Identify(string path, TailedFile file)
    {
        try
        {
            // The common case, nothing written since the last poll: the path and our handle agree on the length, so
            // skip opening the file to compare first bytes (an idle tail then costs one stat per file per poll).
            if (new FileInfo(path).Length == file.Stream.Length && file.Stream.Length >= file.Offset)
            {
                return Change.None;
            }

            using var probe = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1, FileOptions.None);
            var prefix = ReadPrefix(probe, FingerprintBytes);
            var known = file.Fingerprint;
            var common = Math.Min(prefix.Length, known.Length);
            if (!prefix.AsSpan(0, common).SequenceEqual(known.AsSpan(0, common)))
            {
                // Different first bytes: another file at this path, unless ours shrank to nothing and regrew.
                return file.Stream.Length >= file.Offset ? Change.Replaced : Change.Truncated;
            }

            if (probe.Length < file.Offset)
            {
                return Change.Truncated;
            }

            if (prefix.Length > known.Length)
            {
                file.Fingerprint = prefix;
            }

            return Change.None;
        }
        catch (IOException)
        {
            return Change.None;
        }
    }

    private static byte[] ReadPrefix(FileStream stream, int count)
    {
        var buffer = new byte[count];
        var n = RandomAccess.Read(stream.SafeFileHandle, buffer, 0);
        return buffer.AsSpan(0, n).ToArray();
    }

    /// <summary>Reads the file from its offset to its end and admits every complete line (and the last partial one when final).</summary>
    private async Task<bool> ReadAsync(TailedFile file, bool final)
    {
        var any = false;
        while (!StopReading.IsCancellationRequested)
        {
            var n = file.Fill();
            if (n == 0 && !(final && file.PendingLength > 0))
            {
                return any;
            }

            var sequence = new ReadOnlySequence<byte>(file.Buffer, 0, file.PendingLength);
            var initial = sequence.Length;
            var lines = new List<RawLine>();
            while (true)
            {
                var start = file.Offset + (initial - sequence.Length);
                var status = file.Framer.TryRead(ref sequence, out var frame);
                if (status == FrameStatus.NeedMoreData)
                {
                    break;
                }

                lines.Add(MakeLine(file.Path, file.Generation, frame, start, status == FrameStatus.Oversized));
            }

            if (n == 0 && final && !sequence.IsEmpty)
            {
                var start = file.Offset + (initial - sequence.Length);
                var oversized = sequence.Length > Options.MaxLineBytes;
                lines.Add(MakeLine(file.Path, file.Generation, oversized ? sequence.Slice(0, Options.MaxLineBytes) : sequence, start, oversized));
                sequence = sequence.Slice(sequence.End);
            }

            var consumed = (int)(initial - sequence.Length);
            var ack = RawLine.Acknowledge(lines);
            var (written, end) = await FramedStream.AdmitAsync(lines, Info, Output, Abandon).ConfigureAwait(false);
            if (end is not null)
            {
                // The deadline passed: the offset stays before the first line not handed over, so a restart reads it again.
                file.Consume(lines[written].Id, consumed, ack);
                return any;
            }

            any |= lines.Count > 0;
            file.Consume(null, consumed, ack);
            if (n == 0)
            {
                return any;
            }
        }

        return any;
    }

    private RawLine MakeLine(string path, int generation, in ReadOnlySequence<byte> frame, long offset, bool oversized)
    {
        var id = path + ":" + generation.ToString(System.Globalization.CultureInfo.InvariantCulture) + ":" + offset.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return oversized
            ? new RawLine(frame.ToArray(), Info, id, Time.GetUtcNow(), "line longer than the maximum of " + Options.MaxLineBytes.ToString(System.Globalization.CultureInfo.InvariantCulture) + " bytes; the first bytes are kept")
            : new RawLine(frame.ToArray(), Info, id, Time.GetUtcNow());
    }

    private void SaveCheckpoint()
    {
        foreach (var f in _files.Values)
        {
            _checkpoints[f.Path] = new Checkpoint(f.Acknowledged, Convert.ToBase64String(f.Fingerprint), f.Generation);
        }

        var temp = _checkpointPath + ".tmp";
        File.WriteAllText(temp, JsonSerializer.Serialize(_checkpoints));
        File.Move(temp, _checkpointPath, overwrite: true);
    }

    private enum Change
    {
        None,
        Truncated,
        Replaced,
    }

    /// <summary>A checkpointed file: the offset after the last line finished with, the file's first bytes (base64), its generation.</summary>
    private sealed record Checkpoint(long Offset, string Fingerprint, int Generation);

    private sealed class TailedFile(string path, FileStream stream, int maxLineBytes)
    {
        public string Path { get; } = path;

        public FileStream Stream { get; } = stream;

        public LineFramer Framer { get; private set; } = new(maxLineBytes);

        /// <summary>The offset of the first byte of <see cref="Buffer"/>: everything before it is admitted.</summary>
        public long Offset { get; set; }

        /// <summary>The offset every line before which has fired its acknowledgement: what the checkpoint records.</summary>
        public long Acknowledged { get; set; }

        /// <summary>Chunks admitted and not yet acknowledged, in file order, each with the offset just past it.</summary>
        private Queue<(long End, Acknowledgement? Ack)> Unacknowledged { get; } = new();

        public byte[] Fingerprint { get; set; } = [];

        /// <summary>Rotations and truncations seen at this path; part of every id.</summary>
        public int Generation { get; set; }

        public byte[] Buffer { get; private set; } = new byte[64 * 1024];

        public int PendingLength { get; private set; }

        /// <summary>Reads more bytes after the pending ones; returns how many.</summary>
        public int Fill()
        {
            if (PendingLength == Buffer.Length)
            {
                var larger = new byte[Buffer.Length * 2];
                Buffer.AsSpan(0, PendingLength).CopyTo(larger);
                Buffer = larger;
            }

            var n = RandomAccess.Read(Stream.SafeFileHandle, Buffer.AsSpan(PendingLength), Offset + PendingLength);
            PendingLength += n;
            return n;
        }

        /// <summary>
        /// Drops <paramref name="consumed"/> bytes off the front: they are admitted, as one chunk whose checkpoint
        /// waits for <paramref name="ack"/> (null: no line in it, nothing to wait for).
        /// </summary>
        public void Consume(string? stoppedAt, int consumed, Acknowledgement? ack)
        {
            if (stoppedAt is not null)
            {
                var colon = stoppedAt.LastIndexOf(':');
                var at = long.Parse(stoppedAt.AsSpan(colon + 1), System.Globalization.CultureInfo.InvariantCulture);
                consumed = (int)(at - Offset);
            }

            Buffer.AsSpan(consumed, PendingLength - consumed).CopyTo(Buffer);
            PendingLength -= consumed;
            Offset += consumed;
            Unacknowledged.Enqueue((Offset, ack));
        }

        /// <summary>Moves <see cref="Acknowledged"/> over the leading chunks that fired, short of one that failed.</summary>
        public bool AdvanceAcknowledged()
        {
            var moved = false;
            while (Unacknowledged.TryPeek(out var chunk)
                && (chunk.Ack is null || (chunk.Ack.IsCompleted && chunk.Ack.Outcome != DeliveryOutcome.Failed)))
            {
                Unacknowledged.Dequeue();
                Acknowledged = chunk.End;
                moved = true;
            }

            return moved;
        }

        public void Reset()
        {
            // The lines before the truncation are gone from the file: nothing there can be read again.
            Unacknowledged.Clear();
            Acknowledged = 0;
            Offset = 0;
            PendingLength = 0;
            Generation++;
            Framer = new LineFramer(maxLineBytes);
            Fingerprint = [];
        }
    }

    [LoggerMessage(EventId = 1401, Level = LogLevel.Information, Message = "Source {Source} tailing {Glob} ({Checkpoints} checkpointed files)")]
    private static partial void LogTailing(ILogger logger, string source, string glob, int checkpoints);

    [LoggerMessage(EventId = 1402, Level = LogLevel.Information, Message = "Source {Source}: {Path} was rotated; reading its successor from the start")]
    private static partial void LogRotated(ILogger logger, string source, string path);

    [LoggerMessage(EventId = 1403, Level = LogLevel.Information, Message = "Source {Source}: {Path} was truncated (was at offset {Offset}); reading from the start")]
    private static partial void LogTruncated(ILogger logger, string source, string path, long offset);
}
