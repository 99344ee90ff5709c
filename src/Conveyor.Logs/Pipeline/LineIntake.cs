using Conveyor.Logs.Model;

namespace Conveyor.Logs.Pipeline;

/// <summary>
/// Where sources hand their lines: the main buffer in memory, or the disk buffer (<see cref="DiskIntake"/>). A write
/// that returns true means the line is admitted in the intake's sense — in memory, or on disk under its fsync policy
/// — so sources count it, HTTP answers 202 and file checkpoints advance only then.
/// </summary>
public abstract class LineIntake
{
    /// <summary>True when admission means on disk; sources then hand over each read as one batch, waiting for it.</summary>
    public virtual bool IsDurable => false;

    /// <summary>Admits <paramref name="line"/> without waiting (UDP): true when accepted. A durable intake accepts it into the next group commit.</summary>
    public abstract bool TryWrite(RawLine line);

    /// <summary>Admits <paramref name="line"/>, waiting for room under the buffer's policy; false when dropped (counted by the buffer).</summary>
    public abstract ValueTask<bool> WriteAsync(RawLine line, CancellationToken cancellationToken);

    /// <summary>Admits all of <paramref name="lines"/> or none without waiting; a durable intake cannot, and returns false.</summary>
    public abstract bool TryWriteAll(ReadOnlySpan<RawLine> lines);

    /// <summary>
    /// Admits all of <paramref name="lines"/> when they fit now, without waiting and without the buffer's full policy:
    /// false leaves every line with the caller and nothing counted. A durable intake returns false (its batches wait for the disk).
    /// </summary>
    public virtual bool TryWriteAllIfRoom(ReadOnlySpan<RawLine> lines) => false;

    /// <summary>Admits all of <paramref name="lines"/> or none, waiting for room (and, durable, for the disk).</summary>
    public abstract ValueTask<bool> WriteAllAsync(IReadOnlyList<RawLine> lines, CancellationToken cancellationToken);

    /// <summary>The intake over a memory buffer's writer.</summary>
    public static LineIntake FromBufferWriter(BufferWriter<RawLine> writer) => new MemoryIntake(writer);

    /// <summary>Sources built over a memory buffer's writer (tests, the default pipeline) take it as it is.</summary>
    public static implicit operator LineIntake(BufferWriter<RawLine> writer) => FromBufferWriter(writer);

    private sealed class MemoryIntake(BufferWriter<RawLine> writer) : LineIntake
    {
        public override bool TryWrite(RawLine line) => writer.TryWrite(line);

        public override ValueTask<bool> WriteAsync(RawLine line, CancellationToken cancellationToken) => writer.WriteAsync(line, cancellationToken);

        public override bool TryWriteAll(ReadOnlySpan<RawLine> lines) => writer.TryWriteAll(lines);

        public override bool TryWriteAllIfRoom(ReadOnlySpan<RawLine> lines) => writer.TryWriteAllIfRoom(lines);

        public override ValueTask<bool> WriteAllAsync(IReadOnlyList<RawLine> lines, CancellationToken cancellationToken) => writer.WriteAllAsync(lines, cancellationToken);
    }
}
