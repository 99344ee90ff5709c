namespace Conveyor.Logs.Pipeline;

/// <summary>
/// Gives memory back after a burst. The workstation GC collects only when something allocates, so a service that fell
/// idle with every buffer empty kept the heap a burst grew (40 concurrent 8 MiB posts: 950 MiB resident 30 s after the
/// buffers were empty, issue 15 finding 7). Once the flow is idle (nothing written into the main buffer since the last
/// check, main buffer and sink queues empty) and the committed heap is <see cref="Threshold"/> above what it was after
/// the last trim, one compacting collection in aggressive mode returns the free memory to the system.
/// </summary>
/// <remarks>At most once per idle period: it re-arms only after lines flowed again. Driven by the topology's 1 s sampler.</remarks>
internal sealed class IdleMemoryTrim
{
    /// <summary>How far the committed heap must have grown since the last trim: 32 MiB.</summary>
    public const long Threshold = 32L << 20;

    private long _baseline = GC.GetGCMemoryInfo().TotalCommittedBytes;
    private long _lastWritten = -1;
    private bool _armed = true;

    /// <summary>Called once per sample with the main buffer's written counter and whether every buffer is empty; true when it trimmed.</summary>
    public bool OnSample(long mainWritten, bool allEmpty)
    {
        var idle = mainWritten == _lastWritten;
        _lastWritten = mainWritten;
        if (!idle)
        {
            _armed = true;
            return false;
        }

        if (!_armed || !allEmpty || GC.GetGCMemoryInfo().TotalCommittedBytes - _baseline < Threshold)
        {
            return false;
        }

        _armed = false;
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        _baseline = GC.GetGCMemoryInfo().TotalCommittedBytes;
        return true;
    }
}
