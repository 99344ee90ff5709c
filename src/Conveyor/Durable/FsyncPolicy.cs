namespace Conveyor.Durable;

/// <summary>
/// When a <see cref="DiskBuffer"/> forces written records to stable storage, and so what a crash can lose. A write
/// completes only once its record is durable in the sense of the policy; every policy survives a process crash
/// (<c>kill -9</c>) without loss, because a completed write has at least reached the operating system.
/// </summary>
public enum FsyncPolicy
{
    /// <summary>
    /// A write completes after its group of records was written and fsynced. Loss window on power loss or a kernel
    /// crash: none. Costs one fsync per group commit (writers arriving during an fsync share the next one).
    /// </summary>
    Always,

    /// <summary>
    /// The default: a write completes once written to the operating system; the files are fsynced every
    /// <see cref="DiskBufferOptions.FsyncInterval"/> (100 ms by default). Loss window on power loss or a kernel
    /// crash: the records written in the last interval plus one fsync.
    /// </summary>
    Interval,

    /// <summary>
    /// A write completes once written to the operating system; fsync is left to the kernel's writeback (about 30 s
    /// on Linux by default). Loss window on power loss or a kernel crash: whatever the kernel had not written back.
    /// </summary>
    Never,
}
