using System.Diagnostics;
using System.Globalization;

namespace Conveyor.Durable;

public sealed partial class DiskBuffer
{
    private sealed record Recovered(
        List<Segment> Segments,
        long NextSequence,
        Segment? Cursor,
        long CursorOffset,
        long ReplayFrom,
        HashSet<long> ReplayInFlight,
        Checkpoint Checkpoint,
        DiskBufferRecovery Recovery);

    /// <summary>
    /// Scans every segment (headers and checksums: one sequential read per file), moves damaged bytes into
    /// <c>corrupt/</c> and cuts them out of the file (a damaged end is truncated; damage inside a file makes it be
    /// rewritten without it), deletes segments with nothing left to replay, and finds where reading resumes.
    /// </summary>
    private static Recovered Recover(DiskBufferOptions options, string directory)
    {
        var clock = Stopwatch.StartNew();
        string? checkpointProblem;
        Checkpoint? checkpoint;
        try
        {
            checkpoint = Checkpoint.Read(directory, out checkpointProblem);
        }
        catch (IOException ex)
        {
            checkpoint = null;
            checkpointProblem = $"checkpoint unreadable: {ex.Message}";
        }

        // Without a usable checkpoint nothing is known to be acknowledged, so everything found is replayed.
        var replayFrom = checkpoint?.ReadNext ?? 0;
        var replayInFlight = new HashSet<long>(checkpoint?.InFlight ?? []);
        var nextSequence = checkpoint?.NextSequence ?? 0;

        foreach (var leftover in System.IO.Directory.EnumerateFiles(directory, "*" + Segment.Extension + ".tmp"))
        {
            File.Delete(leftover);
        }

        var segments = new List<Segment>();
        var corrupt = new List<CorruptRegion>();
        Segment? cursor = null;
        long cursorOffset = 0;
        long found = 0;
        long replayed = 0;
        var files = SegmentFiles(directory);
        foreach (var (id, path) in files)
        {
            nextSequence = Math.Max(nextSequence, id + 1);
            using var scan = SegmentScanner.ReadAndScan(path);
            var name = Path.GetFileName(path);
            foreach (var damage in scan.Damaged)
            {
                corrupt.Add(MoveAside(directory, name, scan, damage));
            }

            var length = (long)scan.Length;
            if (scan.Damaged.Count > 0)
            {
                length = CutOutDamage(path, scan);
            }

            long live = 0;
            long firstLiveOffset = -1;
            long offset = 0;
            long last = -1;
            foreach (var record in scan.Records)
            {
                found++;
                last = record.Sequence;
                nextSequence = Math.Max(nextSequence, record.Sequence + 1);
                if (record.Sequence >= replayFrom || replayInFlight.Contains(record.Sequence))
                {
                    live++;
                    if (firstLiveOffset < 0)
                    {
                        firstLiveOffset = offset;
                    }
                }

                offset += record.Size;
            }

            if (live == 0)
            {
                // Every record in it was acknowledged (or it held none): nothing to replay.
                File.Delete(path);
                continue;
            }

            var segment = new Segment(id, path)
            {
                Handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete),
                Length = length,
                Durable = length,
                LastSequence = last,
                Sealed = true,
            };
            segments.Add(segment);
            replayed += live;
            if (cursor is null)
            {
                cursor = segment;
                cursorOffset = firstLiveOffset;
            }
        }

        var report = new DiskBufferRecovery(files.Count, found, replayed, corrupt, checkpointProblem, clock.Elapsed);
        return new Recovered(
            segments,
            nextSequence,
            cursor,
            cursorOffset,
            replayFrom,
            replayInFlight,
            new Checkpoint(nextSequence, replayFrom, [.. replayInFlight.Order()]),
            report);
    }

    private static List<(long Id, string Path)> SegmentFiles(string directory)
    {
        var files = new List<(long, string)>();
        foreach (var path in System.IO.Directory.EnumerateFiles(directory, "*" + Segment.Extension))
        {
            if (Segment.TryParseId(Path.GetFileName(path), out var id))
            {
                files.Add((id, path));
            }
        }

        files.Sort((a, b) => a.Item1.CompareTo(b.Item1));
        return files;
    }

    private static CorruptRegion MoveAside(string directory, string segmentName, SegmentScanner.Scan scan, SegmentScanner.Damage damage)
    {
        var folder = Path.Combine(directory, CorruptFolder);
        System.IO.Directory.CreateDirectory(folder);
        var savedAs = Path.Combine(folder, string.Create(CultureInfo.InvariantCulture, $"{segmentName}.{damage.Offset}.bin"));
        File.WriteAllBytes(savedAs, scan.Data.AsSpan(damage.Offset, damage.Length));
        return new CorruptRegion(segmentName, damage.Offset, damage.Length, damage.Reason, savedAs);
    }

    /// <summary>
    /// Removes the damaged regions from the file so that the next open does not find them again: a damaged end is
    /// truncated; damage inside is removed by writing the valid records to a temporary file, forcing it to disk and
    /// renaming it over the segment (a crash in between leaves the original). Returns the new length.
    /// </summary>
    private static long CutOutDamage(string path, SegmentScanner.Scan scan)
    {
        var onlyAtEnd = scan.Damaged.Count == 1 && scan.Damaged[0].Offset + scan.Damaged[0].Length == scan.Length;
        if (onlyAtEnd)
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.Read);
            file.SetLength(scan.Damaged[0].Offset);
            file.Flush(flushToDisk: true);
            return scan.Damaged[0].Offset;
        }

        var temporary = path + ".tmp";
        long length = 0;
        using (var file = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            foreach (var record in scan.Records)
            {
                file.Write(scan.Data, record.Offset, record.Size);
                length += record.Size;
            }

            file.Flush(flushToDisk: true);
        }

        File.Move(temporary, path, overwrite: true);
        return length;
    }

    private static DiskBufferInspection InspectCore(string directory)
    {
        if (!System.IO.Directory.Exists(directory))
        {
            throw new DirectoryNotFoundException($"No disk buffer at '{directory}': the directory does not exist.");
        }

        var checkpoint = Checkpoint.Read(directory, out var problem);
        var replayFrom = checkpoint?.ReadNext ?? 0;
        var inFlight = new HashSet<long>(checkpoint?.InFlight ?? []);
        var segments = new List<SegmentInfo>();
        foreach (var (_, path) in SegmentFiles(directory))
        {
            using var scan = SegmentScanner.ReadAndScan(path);
            var name = Path.GetFileName(path);
            var live = scan.Records.LongCount(r => r.Sequence >= replayFrom || inFlight.Contains(r.Sequence));
            segments.Add(new SegmentInfo(
                name,
                scan.Length,
                scan.Records.Count,
                scan.Records.Count == 0 ? -1 : scan.Records[0].Sequence,
                scan.Records.Count == 0 ? -1 : scan.Records[^1].Sequence,
                live,
                scan.Damaged.ConvertAll(d => new CorruptRegion(name, d.Offset, d.Length, d.Reason, null))));
        }

        return new DiskBufferInspection(directory, segments, problem);
    }
}
