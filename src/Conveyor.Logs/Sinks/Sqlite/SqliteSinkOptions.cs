namespace Conveyor.Logs.Sinks.Sqlite;

/// <summary>Settings of <see cref="SqliteSink"/> (config section <c>Sinks:Sqlite</c>). Call <see cref="Validate"/> after binding.</summary>
public sealed class SqliteSinkOptions
{
    /// <summary>The database file; its folder is created when missing. Default <c>./conveyor-data/conveyor.db</c> (what <c>conveyor run</c> uses).</summary>
    public string Path { get; set; } = DefaultPath;

    /// <summary>The default database path.</summary>
    public const string DefaultPath = "./conveyor-data/conveyor.db";

    /// <summary>
    /// The full-text index on <c>body</c> (config key <c>sinks:N:fullText</c>: <c>words</c> | <c>trigram</c> |
    /// <c>none</c>). Default null: a new database gets <see cref="SqliteFullText.Words"/> and an existing one keeps
    /// the index it has (databases written before the option have <see cref="SqliteFullText.Trigram"/>), so an
    /// upgrade never rebuilds an index unasked. Naming another kind than the database has rebuilds the index once at
    /// start-up (a cost proportional to the store); queries give the same answers under each.
    /// </summary>
    public SqliteFullText? FullText { get; set; }

    /// <summary>Runs <c>PRAGMA quick_check</c> when the store opens and refuses a damaged file. Default true; it reads the whole file once (seconds per GB).</summary>
    public bool IntegrityCheck { get; set; } = true;

    /// <summary>
    /// Rows per multi-row INSERT statement (20 parameters each). Default 8; 1..512. Microsoft.Data.Sqlite binds each
    /// parameter by name on every execution, and SQLite finds a name by a linear scan, so binding costs grow with the
    /// square of the parameters per statement: at 64 rows (1,024 parameters) binding was over half the sink's CPU.
    /// </summary>
    public int RowsPerStatement { get; set; } = 8;

    /// <summary>Most events per transaction; a larger batch is split. Default 20000.</summary>
    public int MaxTransactionEvents { get; set; } = 20_000;

    /// <summary>Most (approximate) bytes per transaction; a larger batch is split. Default 32 MiB.</summary>
    public long MaxTransactionBytes { get; set; } = 32L << 20;

    /// <summary>An event larger than this (body + attributes, in characters) is refused and dead-lettered. Default 1 MiB.</summary>
    public int MaxEventBytes { get; set; } = 1 << 20;

    /// <summary>Events (and dead letters) older than this are deleted by <see cref="SqliteSink.ApplyRetentionAsync"/>. Default null: kept.</summary>
    public TimeSpan? RetentionMaxAge { get; set; }

    /// <summary>The database is kept below this size by deleting the oldest events. Default null: unbounded.</summary>
    public long? RetentionMaxBytes { get; set; }

    /// <summary>Rows deleted per retention statement, so the writer is never blocked long. Default 5000.</summary>
    public int RetentionChunk { get; set; } = 5000;

    /// <summary>Throws <see cref="ArgumentException"/> naming the key of the first invalid option.</summary>
    public SqliteSinkOptions Validate()
    {
        if (string.IsNullOrWhiteSpace(Path))
        {
            throw new ArgumentException($"{nameof(Path)} must name a database file.", nameof(Path));
        }

        Check(FullText is null || Enum.IsDefined(FullText.Value), nameof(FullText), "words, trigram or none", FullText);
        Check(RowsPerStatement is >= 1 and <= 512, nameof(RowsPerStatement), "1..512", RowsPerStatement);
        Check(MaxTransactionEvents >= 1, nameof(MaxTransactionEvents), "at least 1", MaxTransactionEvents);
        Check(MaxTransactionBytes >= 1024, nameof(MaxTransactionBytes), "at least 1024", MaxTransactionBytes);
        Check(MaxEventBytes >= 256, nameof(MaxEventBytes), "at least 256", MaxEventBytes);
        Check(RetentionMaxAge is null || RetentionMaxAge > TimeSpan.Zero, nameof(RetentionMaxAge), "positive", RetentionMaxAge);
        Check(RetentionMaxBytes is null || RetentionMaxBytes >= 64 * 1024, nameof(RetentionMaxBytes), "at least 65536", RetentionMaxBytes);
        Check(RetentionChunk >= 1, nameof(RetentionChunk), "at least 1", RetentionChunk);
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
