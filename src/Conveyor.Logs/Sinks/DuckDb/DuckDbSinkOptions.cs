namespace Conveyor.Logs.Sinks.DuckDb;

/// <summary>Settings of <see cref="DuckDbSink"/> (<c>duckdb:PATH</c>). Call <see cref="Validate"/> after binding.</summary>
public sealed class DuckDbSinkOptions
{
    /// <summary>The default database path, the zero-config store of <c>conveyor run</c>.</summary>
    public const string DefaultPath = "./conveyor-data/conveyor.duckdb";

    /// <summary>The database file; its folder is created when missing. Default <c>./conveyor-data/conveyor.duckdb</c>.</summary>
    public string Path { get; set; } = DefaultPath;

    /// <summary>
    /// DuckDB's own memory limit (its buffer pool: appends, checkpoints and searches), in bytes. Default 256 MiB, to be
    /// counted in the service's memory budget beside the pipeline's buffers; at least 16 MiB. A search that needs more
    /// spills to a temporary folder beside the database or fails, the writer is not starved.
    /// </summary>
    public long MemoryLimit { get; set; } = DefaultMemoryLimit;

    /// <summary>Threads DuckDB may use for a search or a checkpoint. Default: half the processor count, 1 to 4; 1..64.</summary>
    public int Threads { get; set; } = DefaultThreads;

    /// <summary>
    /// How much write-ahead log DuckDB gathers before it checkpoints (compresses the new rows into the database file),
    /// in bytes. Default 128 MiB; 1 MiB..1 GiB. A checkpoint compresses the table's last, partly filled row group
    /// (122,880 rows) again each time, so at DuckDB's own 16 MiB a log store compressed every row several times and wrote
    /// less than half the rows per second (<c>bench/Conveyor.Benchmarks -- duckdb</c>). A larger log costs its replay
    /// time after a crash (seconds for 128 MiB) and memory inside <see cref="MemoryLimit"/>.
    /// </summary>
    public long CheckpointThreshold { get; set; } = DefaultCheckpointThreshold;

    /// <summary>
    /// Writer connections, each appending one batch at a time: that many batch writes run at once (appends of one
    /// DuckDB instance do not conflict; commits serialise inside DuckDB). Default 2; 1..8. The connections share the one
    /// instance's <see cref="MemoryLimit"/> (a setting of the instance, not of a connection) and <see cref="Threads"/>;
    /// each open transaction holds its batch's appended rows in DuckDB's memory until it commits. Measured on 2 cores with 1 DuckDB
    /// thread (<c>bench/Conveyor.Benchmarks -- duckdb writers</c>, 2M prepared rows in transactions of 20,000): 2
    /// writers stored 1.18–1.35× the rows per second of 1 (7 adjacent pairs, median 1.21) at the same CPU per row,
    /// because one writer's append overlaps the other's commit.
    /// </summary>
    public int Writers { get; set; } = DefaultWriters;

    /// <summary>
    /// Searches of this store go before its writes (<see cref="SearchPriority"/>): while <c>/api/search</c> or the
    /// dashboard reads, the next preparation and write wait, at most 200 ms each and never more than half of the time.
    /// Default true; false shares the cores evenly between a search and a writer at full rate.
    /// </summary>
    public bool SearchesFirst { get; set; } = true;

    /// <summary>The default <see cref="Writers"/>: 2.</summary>
    public const int DefaultWriters = 2;

    /// <summary>The default <see cref="CheckpointThreshold"/>: 128 MiB.</summary>
    public const long DefaultCheckpointThreshold = 128L << 20;

    /// <summary>The default <see cref="MemoryLimit"/>: 256 MiB.</summary>
    public const long DefaultMemoryLimit = 256L << 20;

    /// <summary>
    /// The default <see cref="Threads"/>: half the processor count, 1 to 4. The writer appends on one thread and waits
    /// in DuckDB's task loop for the others during a commit's checkpoint work; with every core offered to DuckDB they
    /// competed with the parse and preparation workers, and on 2 cores the seed scenario cost 1.43 cores at 48k lines/s
    /// with 2 threads against 1.25–1.27 at 52–55k with 1 (docs/BENCHMARKS.md, "DuckDB threads"). Searches on 10M rows
    /// still met every goal with 1.
    /// </summary>
    public static int DefaultThreads => Math.Clamp(Environment.ProcessorCount / 2, 1, 4);

    /// <summary>An event larger than this (body + attributes, in characters) is refused and dead-lettered. Default 1 MiB.</summary>
    public int MaxEventBytes { get; set; } = 1 << 20;

    /// <summary>
    /// How long the positions of a stream that received nothing new are remembered for idempotence (see
    /// <see cref="DuckDbSink"/>). Default 24 hours. Forgetting never loses an event; a replay older than this may be
    /// stored twice.
    /// </summary>
    public TimeSpan IdempotenceWindow { get; set; } = TimeSpan.FromHours(24);

    /// <summary>
    /// The most position ranges remembered per stream; beyond it the lowest are forgotten. Default 10,000. Streams of
    /// counted lines (TCP, HTTP, UDP, stdin) need one range; file streams are numbered by byte offset, so lines written
    /// out of order leave one range per gap until the gap fills.
    /// </summary>
    public int MaxRangesPerStream { get; set; } = 10_000;

    /// <summary>Events (and dead letters) older than this are deleted by <see cref="DuckDbSink.ApplyRetentionAsync"/>. Default null: kept.</summary>
    public TimeSpan? RetentionMaxAge { get; set; }

    /// <summary>The oldest events are deleted while the database file is larger than this. Default null: unbounded.</summary>
    public long? RetentionMaxBytes { get; set; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the key of the first invalid option.</summary>
    public DuckDbSinkOptions Validate()
    {
        if (string.IsNullOrWhiteSpace(Path))
        {
            throw new ArgumentException($"{nameof(Path)} must name a database file.", nameof(Path));
        }

        Check(MemoryLimit >= 16L << 20, nameof(MemoryLimit), "at least 16 MiB", MemoryLimit);
        Check(Threads is >= 1 and <= 64, nameof(Threads), "1..64", Threads);
        Check(Writers is >= 1 and <= 8, nameof(Writers), "1..8", Writers);
        Check(CheckpointThreshold is >= 1L << 20 and <= 1L << 30, nameof(CheckpointThreshold), "1 MiB..1 GiB", CheckpointThreshold);
        Check(MaxEventBytes >= 256, nameof(MaxEventBytes), "at least 256", MaxEventBytes);
        Check(IdempotenceWindow > TimeSpan.Zero, nameof(IdempotenceWindow), "positive", IdempotenceWindow);
        Check(MaxRangesPerStream >= 1, nameof(MaxRangesPerStream), "at least 1", MaxRangesPerStream);
        Check(RetentionMaxAge is null || RetentionMaxAge > TimeSpan.Zero, nameof(RetentionMaxAge), "positive", RetentionMaxAge);
        Check(RetentionMaxBytes is null || RetentionMaxBytes >= 1L << 20, nameof(RetentionMaxBytes), "at least 1 MiB", RetentionMaxBytes);
        return this;
    }

    private static void Check(bool ok, string key, string rule, object? value)
    {
        if (!ok)
        {
            throw new ArgumentException($"{key} must be {rule} (was {value}).", key);
        }
    }
}

/// <summary>
/// The config section <c>sinks:N:duckdb</c> of a <c>duckdb:PATH</c> sink (the path is the URI's): DuckDB's own
/// resources, counted in the service's memory budget.
/// </summary>
public sealed class DuckDbSettings
{
    /// <summary>DuckDB's memory limit in bytes (<c>sinks:N:duckdb:memoryLimit</c>). Default 256 MiB; at least 16 MiB.</summary>
    public long MemoryLimit { get; set; } = DuckDbSinkOptions.DefaultMemoryLimit;

    /// <summary>DuckDB's threads for searches and checkpoints (<c>sinks:N:duckdb:threads</c>). Default: half the processor count, 1 to 4; 1..64.</summary>
    public int Threads { get; set; } = DuckDbSinkOptions.DefaultThreads;

    /// <summary>Writer connections appending batches at once (<c>sinks:N:duckdb:writers</c>). Default 2; 1..8.</summary>
    public int Writers { get; set; } = DuckDbSinkOptions.DefaultWriters;

    /// <summary>Write-ahead log gathered before a checkpoint, in bytes (<c>sinks:N:duckdb:checkpointThreshold</c>). Default 128 MiB; 1 MiB..1 GiB.</summary>
    public long CheckpointThreshold { get; set; } = DuckDbSinkOptions.DefaultCheckpointThreshold;

    /// <summary>Searches go before writes (<c>sinks:N:duckdb:searchesFirst</c>). Default true.</summary>
    public bool SearchesFirst { get; set; } = true;
}
