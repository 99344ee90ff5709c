namespace Conveyor.Durable;

/// <summary>A damaged stretch of a segment file: skipped on open, its bytes moved aside.</summary>
/// <param name="Segment">The segment file name.</param>
/// <param name="Offset">Where the damage starts, in bytes from the start of the file as it was found.</param>
/// <param name="Length">How many bytes were skipped.</param>
/// <param name="Reason">What was wrong with the first bytes (a cut-short record at the end of a file is a torn write).</param>
/// <param name="SavedAs">Where the bytes were copied on open (under <c>corrupt/</c>), or null when only inspected.</param>
public sealed record CorruptRegion(string Segment, long Offset, long Length, string Reason, string? SavedAs);

/// <summary>One segment file as a scan found it.</summary>
public sealed record SegmentInfo(string Name, long Bytes, long Records, long FirstSequence, long LastSequence, long Unacknowledged, IReadOnlyList<CorruptRegion> Corrupt);

/// <summary>What <see cref="DiskBuffer.Inspect"/> found in a buffer directory, without changing anything.</summary>
public sealed record DiskBufferInspection(string Directory, IReadOnlyList<SegmentInfo> Segments, string? CheckpointProblem)
{
    /// <summary>Valid records in every segment (acknowledged ones whose segment is not yet deleted included).</summary>
    public long Records => Segments.Sum(s => s.Records);

    /// <summary>Records that would be replayed on open.</summary>
    public long Unacknowledged => Segments.Sum(s => s.Unacknowledged);

    /// <summary>Bytes of every segment file.</summary>
    public long Bytes => Segments.Sum(s => s.Bytes);

    /// <summary>Every damaged region found.</summary>
    public IEnumerable<CorruptRegion> Corrupt => Segments.SelectMany(s => s.Corrupt);

    /// <summary>True when no record is damaged and the checkpoint (if any) is readable.</summary>
    public bool IsHealthy => CheckpointProblem is null && !Corrupt.Any();
}

/// <summary>What opening a <see cref="DiskBuffer"/> found and did.</summary>
/// <param name="Segments">Segment files found.</param>
/// <param name="RecordsFound">Valid records found in them.</param>
/// <param name="Replayed">Records not acknowledged before the buffer was closed or crashed: they are read again.</param>
/// <param name="Corrupt">Damaged regions skipped, with where their bytes were moved.</param>
/// <param name="CheckpointProblem">Why the checkpoint could not be used (then every record found is replayed), or null.</param>
/// <param name="Elapsed">How long the recovery took.</param>
public sealed record DiskBufferRecovery(int Segments, long RecordsFound, long Replayed, IReadOnlyList<CorruptRegion> Corrupt, string? CheckpointProblem, TimeSpan Elapsed);
