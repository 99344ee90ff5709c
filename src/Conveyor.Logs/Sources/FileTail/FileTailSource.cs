using Conveyor.Logs.Pipeline;
using System.Buffers;
using System.Text.Json;
using Conveyor.Logs.Configuration;
using Conveyor.Logs.Model;
using Conveyor.Logs.Parsing;
using Conveyor.Logs.Sources.Framing;
using Microsoft.Extensions.Logging;

namespace Conveyor.Logs.Sources.FileTail;

/// <summary>
/// Tails every file matching a glob (<c>file:///var/log/nginx/*.log</c>), following each file by its identity (device
/// and inode, see <see cref="FileStat"/>) rather than its path: a file renamed to another name the glob matches
/// (<c>access.log</c> → <c>access-2.log</c>) is read on from where it was, never again from the start; a file renamed
/// out of the glob or deleted is read on until it has not grown for <see cref="SourceOptions.RotateWait"/> (its writer
/// writes on to it until it reopens the path), then read to its end and forgotten; a new file at a known path is a new file; a file that
/// shrinks (truncation, copytruncate) is read again from the start. Offsets are checkpointed by identity, atomically
/// (temp file + rename), so a restart resumes after the last line every sink has finished with and says so
/// ("resuming FILE at byte N, checkpoint from TIME"); <see cref="SourceOptions.Checkpoint"/> <c>ignore</c> starts over.
/// </summary>
/// <remarks>
/// <para>Ids are <c>path:generation:byte-offset</c>, where path is where the file was first seen and the generation
/// counts the files seen at that path (a rotation's successor, a truncation): the same bytes keep the same id across
/// renames and restarts, so sinks' idempotency drops a line re-read after a crash, and new lines at old offsets never
/// collide with old ids. The generations of every path ever seen are kept in the checkpoint, so a path that comes
/// back never reuses an id.</para>
/// <para>Only regular files inside the glob's directory are read. A FIFO, socket, device or directory, a link that
/// leads out of the directory, a second link to a file already tailed, a file that cannot be opened, and a file
/// whose size lies (<c>/proc</c>- and <c>/sys</c>-like files report 0 bytes but hold data, so every poll would look
/// like a truncation) are skipped, with one log line each until the path disappears.</para>
/// <para>A file is recognised by its identity and its first bytes (up to 64): an identity whose first bytes differ is
/// a reused inode, hence a new file. Every chunk read carries one acknowledgement; the checkpoint of a file moves to
/// the end of a chunk only when that chunk and every chunk before it have fired (stored, dead-lettered or dropped and
/// counted at every sink), not when its lines enter memory. So after a crash a restart reads again every line not yet
/// finished with (ids make the replay idempotent). A chunk that failed for good (a sink gave up on it, or the drain
/// deadline left it) holds the checkpoint where it is for the rest of the run, so the next run reads it again.</para>
/// </remarks>
public sealed partial class FileTailSource : LogSource
{
    private const int FingerprintBytes = 64;

    /// <summary>The files being tailed, by identity.</summary>
    private readonly Dictionary<string, TailedFile> _files = new(StringComparer.Ordinal);

    /// <summary>Paths skipped, with why; a path leaves when it leaves the listing, so it is logged once while present.</summary>
    private readonly Dictionary<string, string> _skipped = new(StringComparer.Ordinal);
    private readonly string _directory;
    private readonly string _pattern;

    /// <summary>The pattern as <c>Directory.EnumerateFiles</c> matches it (Win32 wildcards, the platform's case rule).</summary>
    private readonly string _expression;
    private readonly string _checkpointPath;
    private CheckpointFile _checkpoint = new();

    /// <summary>Creates the source; <see cref="LogSource.StartAsync"/> loads its checkpoint.</summary>
    public FileTailSource(SourceOptions options, SourceInfo info, LineIntake output, ILogger logger, TimeProvider time)
        : base(options, info, output, logger, time)
    {
        var full = System.IO.Path.GetFullPath(options.Path!);
        _directory = System.IO.Path.GetDirectoryName(full) ?? "/";
        _pattern = System.IO.Path.GetFileName(full);
        _expression = System.IO.Enumeration.FileSystemName.TranslateWin32Expression(_pattern);
        _checkpointPath = System.IO.Path.Combine(options.CheckpointDirectory, info.Name + ".checkpoint.json");
    }

    /// <inheritdoc />
    protected override Task BindAsync(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(Options.CheckpointDirectory);
        if (File.Exists(_checkpointPath))
        {
            if (Options.Checkpoint == FileCheckpoint.Ignore)
            {
                LogIgnoringCheckpoint(Logger, Info.Name, _checkpointPath);
            }
            else
            {
                _checkpoint = LoadCheckpoint(File.ReadAllText(_checkpointPath), File.GetLastWriteTimeUtc(_checkpointPath));
            }
        }

        LogTailing(Logger, Info.Name, System.IO.Path.Combine(_directory, _pattern), _checkpoint.Files.Count);
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
        var changed = false;
        var present = List();
        foreach (var path in _skipped.Keys.Except(present.Select(static p => p.Path)).ToList())
        {
            _skipped.Remove(path);
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (path, isLink) in present)
        {
            if (_skipped.ContainsKey(path))
            {
                continue;
            }

            var stat = FileStat.Of(path);
            if (stat.Kind == FileKind.Missing)
            {
                continue;
            }

            if (Refuse(path, isLink, stat, seen) is { } reason)
            {
                Skip(path, reason);
                continue;
            }

            if (_files.TryGetValue(stat.Identity, out var file))
            {
                if (file.Path != path)
                {
                    // Renamed to a name the glob matches: the same bytes, read on from the same offset.
                    LogRenamed(Logger, Info.Name, file.Path, path, file.Offset);
                    file.Path = path;
                    changed = true;
                }

                if (IsTruncated(file, stat))
                {
                    LogTruncated(Logger, Info.Name, path, file.Offset);
                    file.Reset(_checkpoint.NextGeneration(file.IdPath));
                    changed = true;
                }
            }
            else
            {
                file = Open(path, stat);
                if (file is null)
                {
                    continue;
                }

                _files[stat.Identity] = file;
                changed = true;
            }

            seen.Add(stat.Identity);
            file.QuietOutsideGlobSince = null;
            progressed |= await ReadAsync(file, final: false).ConfigureAwait(false);
            if (StopReading.IsCancellationRequested)
            {
                return progressed;
            }
        }

        var now = Time.GetUtcNow();
        foreach (var gone in _files.Keys.Except(seen).ToList())
        {
            // Deleted, or renamed out of the glob (rotation to access.log.1 with *.log): our handle still reads it, and
            // its writer goes on writing to it until it reopens the path, so it is read on until it has not grown for
            // the rotate wait; then finished, final partial line included, and forgotten (its generation stays counted
            // at its path). It cannot be found again, so lines of it not yet finished with are not replayable after a
            // crash.
            var file = _files[gone];
            if (file.QuietOutsideGlobSince is null)
            {
                file.QuietOutsideGlobSince = now;
                LogLeftGlob(Logger, Info.Name, file.Path, file.Offset, Options.RotateWait.TotalSeconds);
            }

            if (await ReadAsync(file, final: false).ConfigureAwait(false))
            {
                file.QuietOutsideGlobSince = now;
                progressed = true;
            }

            if (StopReading.IsCancellationRequested)
            {
                return progressed;
            }

            if (now - file.QuietOutsideGlobSince < Options.RotateWait)
            {
                continue;
            }

            progressed |= await ReadAsync(file, final: true).ConfigureAwait(false);
            await file.Stream.DisposeAsync().ConfigureAwait(false);
            _files.Remove(gone);
            _checkpoint.Files.Remove(gone);
            LogFinished(Logger, Info.Name, file.Path, file.Offset);
            changed = true;
        }

        if (progressed || changed)
        {
            SaveCheckpoint();
        }

        return progressed;
    }

    /// <summary>
    /// The paths the glob matches now, files before links (so a link to a tailed file is the duplicate, not the
    /// file), each in ordinal order; whether an entry is a link comes with the directory listing, at no extra stat.
    /// </summary>
    private List<(string Path, bool IsLink)> List()
    {
        if (!Directory.Exists(_directory))
        {
            return [];
        }

        var entries = new System.IO.Enumeration.FileSystemEnumerable<(string Path, bool IsLink)>(
            _directory,
            static (ref System.IO.Enumeration.FileSystemEntry e) => (e.ToFullPath(), (e.Attributes & FileAttributes.ReparsePoint) != 0))
        {
            ShouldIncludePredicate = (ref System.IO.Enumeration.FileSystemEntry e) =>
                !e.IsDirectory && System.IO.Enumeration.FileSystemName.MatchesWin32Expression(_expression, e.FileName, ignoreCase: !OperatingSystem.IsLinux()),
        };
        return [.. entries.OrderBy(static e => e.IsLink).ThenBy(static e => e.Path, StringComparer.Ordinal)];
    }

    /// <summary>Why <paramref name="path"/> is not tailed, or null when it is.</summary>
    private string? Refuse(string path, bool isLink, FileStat stat, HashSet<string> seen)
    {
        if (stat.Kind != FileKind.Regular)
        {
            return "not a regular file (a FIFO, socket, device or directory)";
        }

        if (isLink)
        {
            string? target;
            try
            {
                target = new FileInfo(path).ResolveLinkTarget(returnFinalTarget: true)?.FullName;
            }
            catch (IOException)
            {
                target = null;
            }

            if (target is null || !target.StartsWith(_directory.TrimEnd('/') + "/", StringComparison.Ordinal))
            {
                return $"a link out of {_directory} (to {target ?? "an unresolvable target"})";
            }
        }

        return seen.Contains(stat.Identity) ? "the same file as another path already tailed" : null;
    }

    private void Skip(string path, string reason)
    {
        _skipped[path] = reason;
        LogSkipped(Logger, Info.Name, path, reason);
    }

    /// <summary>True when the file at our handle shrank below what was read, or its first bytes were rewritten.</summary>
    private static bool IsTruncated(TailedFile file, FileStat stat)
    {
        if (stat.Size < file.Offset + file.PendingLength)
        {
            return true;
        }

        if (stat.Size == file.LastSize)
        {
            // Nothing written since the last poll: an idle tail costs one stat per file.
            return false;
        }

        file.LastSize = stat.Size;
        var prefix = ReadPrefix(file.Stream, FingerprintBytes);
        var common = Math.Min(prefix.Length, file.Fingerprint.Length);
        if (!prefix.AsSpan(0, common).SequenceEqual(file.Fingerprint.AsSpan(0, common)))
        {
            // Truncated and rewritten past our offset between two polls (copytruncate under a fast writer).
            return true;
        }

        if (prefix.Length > file.Fingerprint.Length)
        {
            file.Fingerprint = prefix;
        }

        return false;
    }

    private TailedFile? Open(string path, FileStat stat)
    {
        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1, FileOptions.None);
        }
        catch (FileNotFoundException)
        {
            return null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Skip(path, "it cannot be opened: " + ex.Message);
            return null;
        }

        var fingerprint = ReadPrefix(stream, FingerprintBytes);
        if (stat.Size == 0 && fingerprint.Length > 0 && stream.Length == 0)
        {
            stream.Dispose();
            Skip(path, "its size (0 bytes) is not what it holds (a /proc- or /sys-like file)");
            return null;
        }

        var file = new TailedFile(path, stream, Options.MaxLineBytes) { Fingerprint = fingerprint, LastSize = stat.Size };
        if (_checkpoint.Files.TryGetValue(stat.Identity, out var cp)
            && cp.Offset <= stat.Size
            && fingerprint.AsSpan().StartsWith(Convert.FromBase64String(cp.Fingerprint)))
        {
            file.IdPath = cp.IdPath;
            file.Generation = cp.Generation;
            file.Offset = cp.Offset;
            file.Acknowledged = cp.Offset;
            LogResuming(Logger, Info.Name, path, cp.Offset, cp.Time);
        }
        else
        {
            // Never seen, or its inode was reused by a new file: a new generation at this path, read from the start.
            file.IdPath = path;
            file.Generation = _checkpoint.NextGeneration(path);
        }

        return file;
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

                lines.Add(MakeLine(file.IdPath, file.Generation, frame, start, status == FrameStatus.Oversized));
            }

            if (n == 0 && final && !sequence.IsEmpty)
            {
                var start = file.Offset + (initial - sequence.Length);
                var oversized = sequence.Length > Options.MaxLineBytes;
                lines.Add(MakeLine(file.IdPath, file.Generation, oversized ? sequence.Slice(0, RawLine.EvidenceBytes) : sequence, start, oversized));
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
            ? new RawLine(frame.ToArray(), Info, id, Time.GetUtcNow(), RawLine.OversizedReason(Options.MaxLineBytes))
            : new RawLine(frame.ToArray(), Info, id, Time.GetUtcNow());
    }

    private void SaveCheckpoint()
    {
        var now = Time.GetUtcNow();
        foreach (var (identity, f) in _files)
        {
            _checkpoint.Files[identity] = new Checkpoint(f.Path, f.IdPath, f.Generation, f.Acknowledged, Convert.ToBase64String(f.Fingerprint), now);
        }

        var temp = _checkpointPath + ".tmp";
        File.WriteAllText(temp, JsonSerializer.Serialize(_checkpoint));
        File.Move(temp, _checkpointPath, overwrite: true);
    }

    /// <summary>
    /// Reads a checkpoint; one from before identities (a map of path to offset, fingerprint and generation) is carried
    /// over to the identity now at each path, with the checkpoint file's time.
    /// </summary>
    private static CheckpointFile LoadCheckpoint(string json, DateTime savedAt)
    {
        using var doc = JsonDocument.Parse(json);
        if (doc.RootElement.TryGetProperty(nameof(CheckpointFile.Files), out _))
        {
            return JsonSerializer.Deserialize<CheckpointFile>(json) ?? new CheckpointFile();
        }

        var result = new CheckpointFile();
        foreach (var (path, old) in JsonSerializer.Deserialize<Dictionary<string, PathCheckpoint>>(json) ?? [])
        {
            result.Generations[path] = Math.Max(old.Generation, result.Generations.GetValueOrDefault(path));
            var stat = FileStat.Of(path);
            if (stat.Kind == FileKind.Regular)
            {
                result.Files[stat.Identity] = new Checkpoint(path, path, old.Generation, old.Offset, old.Fingerprint, new DateTimeOffset(savedAt, TimeSpan.Zero));
            }
        }

        return result;
    }

    /// <summary>The checkpoint file: each tailed file by identity, and the last generation used at every path.</summary>
    private sealed class CheckpointFile
    {
        public Dictionary<string, Checkpoint> Files { get; init; } = new(StringComparer.Ordinal);

        public Dictionary<string, int> Generations { get; init; } = new(StringComparer.Ordinal);

        /// <summary>The generation for a new file at <paramref name="path"/>: 0 for a path never seen, else one more than its last.</summary>
        public int NextGeneration(string path)
        {
            var next = Generations.TryGetValue(path, out var last) ? last + 1 : 0;
            Generations[path] = next;
            return next;
        }
    }

    /// <summary>
    /// A checkpointed file: where it is now, the path and generation its ids carry, the offset after the last line
    /// finished with, its first bytes (base64) and when this was saved.
    /// </summary>
    private sealed record Checkpoint(string Path, string IdPath, int Generation, long Offset, string Fingerprint, DateTimeOffset Time);

    /// <summary>The checkpoint entry before files were followed by identity, keyed by path.</summary>
    private sealed record PathCheckpoint(long Offset, string Fingerprint, int Generation);

    private sealed class TailedFile(string path, FileStream stream, int maxLineBytes)
    {
        /// <summary>Where the file is now.</summary>
        public string Path { get; set; } = path;

        /// <summary>Where the file was first seen: the path its ids carry, across renames.</summary>
        public string IdPath { get; set; } = path;

        /// <summary>Since when the file has been out of the glob without growing; null while the glob matches it.</summary>
        public DateTimeOffset? QuietOutsideGlobSince { get; set; }

        /// <summary>The size at the last poll that read the first bytes.</summary>
        public long LastSize { get; set; }

        public FileStream Stream { get; } = stream;

        public LineFramer Framer { get; private set; } = new(maxLineBytes);

        /// <summary>The offset of the first byte of <see cref="Buffer"/>: everything before it is admitted.</summary>
        public long Offset { get; set; }

        /// <summary>The offset every line before which has fired its acknowledgement: what the checkpoint records.</summary>
        public long Acknowledged { get; set; }

        /// <summary>Chunks admitted and not yet acknowledged, in file order, each with the offset just past it.</summary>
        private Queue<(long End, Acknowledgement? Ack)> Unacknowledged { get; } = new();

        public byte[] Fingerprint { get; set; } = [];

        /// <summary>Files and truncations seen at <see cref="IdPath"/> before this one; part of every id.</summary>
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

        public void Reset(int generation)
        {
            // The lines before the truncation are gone from the file: nothing there can be read again.
            Unacknowledged.Clear();
            Acknowledged = 0;
            Offset = 0;
            PendingLength = 0;
            LastSize = 0;
            Generation = generation;
            Framer = new LineFramer(maxLineBytes);
            Fingerprint = ReadPrefix(Stream, FingerprintBytes);
        }
    }

    [LoggerMessage(EventId = 1401, Level = LogLevel.Information, Message = "Source {Source} tailing {Glob} ({Checkpoints} checkpointed files)")]
    private static partial void LogTailing(ILogger logger, string source, string glob, int checkpoints);

    [LoggerMessage(EventId = 1402, Level = LogLevel.Information, Message = "Source {Source}: {Path} was renamed to {NewPath}; reading on from byte {Offset}")]
    private static partial void LogRenamed(ILogger logger, string source, string path, string newPath, long offset);

    [LoggerMessage(EventId = 1403, Level = LogLevel.Information, Message = "Source {Source}: {Path} was truncated (was at offset {Offset}); reading from the start")]
    private static partial void LogTruncated(ILogger logger, string source, string path, long offset);

    [LoggerMessage(EventId = 1404, Level = LogLevel.Warning, Message = "Source {Source}: skipping {Path}: {Reason}")]
    private static partial void LogSkipped(ILogger logger, string source, string path, string reason);

    [LoggerMessage(EventId = 1405, Level = LogLevel.Information, Message = "Source {Source}: resuming {Path} at byte {Offset}, checkpoint from {Time:O}")]
    private static partial void LogResuming(ILogger logger, string source, string path, long offset, DateTimeOffset time);

    [LoggerMessage(EventId = 1406, Level = LogLevel.Information, Message = "Source {Source}: ignoring the checkpoint {Checkpoint} (checkpoint=ignore): every file is read from the start")]
    private static partial void LogIgnoringCheckpoint(ILogger logger, string source, string checkpoint);

    [LoggerMessage(EventId = 1407, Level = LogLevel.Information, Message = "Source {Source}: {Path} left the glob and has not grown for the rotate wait; read to its end at byte {Offset}")]
    private static partial void LogFinished(ILogger logger, string source, string path, long offset);

    [LoggerMessage(EventId = 1408, Level = LogLevel.Information, Message = "Source {Source}: {Path} left the glob (renamed away or deleted) at byte {Offset}; reading on until it has not grown for {RotateWaitSeconds} s")]
    private static partial void LogLeftGlob(ILogger logger, string source, string path, long offset, double rotateWaitSeconds);
}
