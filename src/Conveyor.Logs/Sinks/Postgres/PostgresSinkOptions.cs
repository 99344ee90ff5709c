namespace Conveyor.Logs.Sinks.Postgres;

/// <summary>Settings of <see cref="PostgresSink"/> (config section <c>Sinks:Postgres</c>). Call <see cref="Validate"/> after binding.</summary>
public sealed class PostgresSinkOptions
{
    /// <summary>
    /// An Npgsql connection string; required. <c>Search Path=SCHEMA</c> picks the schema (which must exist) the
    /// tables live in; default: the server's search path (normally <c>public</c>).
    /// </summary>
    public string ConnectionString { get; set; } = string.Empty;

    /// <summary>Day partitions created ahead of the newest event written, so the next day's data finds its table. Default 1.</summary>
    public int PartitionDaysAhead { get; set; } = 1;

    /// <summary>Partitions whose day ended more than this many days ago are dropped by <see cref="PostgresSink.ApplyRetentionAsync"/>. Default null: kept. <see cref="RetentionMaxAge"/> wins when both are set.</summary>
    public int? RetentionDays { get; set; }

    /// <summary>Day partitions whose whole day is older than this are dropped, with older dead letters (config key <c>sinks:N:retention:maxAge</c>). Default null: kept.</summary>
    public TimeSpan? RetentionMaxAge { get; set; }

    /// <summary>The oldest day partitions are dropped while the events take more than this many bytes on disk, indexes included; the newest day stays (config key <c>sinks:N:retention:maxBytes</c>). Default null: unbounded.</summary>
    public long? RetentionMaxBytes { get; set; }

    /// <summary>
    /// Parallel COPY streams (connections), so the server parses and indexes on several backends: the sink lane runs
    /// this many whole-batch writes at once, and a direct <see cref="PostgresSink.WriteBatchAsync"/> splits its batch
    /// over this many (a batch under 256 events per stream uses fewer). Default 2; 1..16.
    /// </summary>
    public int CopyStreams { get; set; } = 2;

    /// <summary>Full-text index of closed days (config key <c>sinks:N:fullText</c>): <see cref="PostgresFullText.Trigram"/> (default) or <see cref="PostgresFullText.None"/>.</summary>
    public PostgresFullText FullText { get; set; } = PostgresFullText.Trigram;

    /// <summary>How long after a UTC day ends its partition gets its query indexes (late events still arrive cheaply until then). Default 1 hour.</summary>
    public TimeSpan SealAfter { get; set; } = TimeSpan.FromHours(1);

    /// <summary>The age limit in force: <see cref="RetentionMaxAge"/>, else <see cref="RetentionDays"/>.</summary>
    internal TimeSpan? EffectiveMaxAge => RetentionMaxAge ?? (RetentionDays is { } d ? TimeSpan.FromDays(d) : null);

    /// <summary>Throws <see cref="ArgumentException"/> naming the key of the first invalid option.</summary>
    public PostgresSinkOptions Validate()
    {
        if (string.IsNullOrWhiteSpace(ConnectionString))
        {
            throw new ArgumentException($"{nameof(ConnectionString)} is required.", nameof(ConnectionString));
        }

        if (PartitionDaysAhead is < 0 or > 31)
        {
            throw new ArgumentException($"{nameof(PartitionDaysAhead)} must be 0..31 (was {PartitionDaysAhead}).", nameof(PartitionDaysAhead));
        }

        if (RetentionDays is < 1)
        {
            throw new ArgumentException($"{nameof(RetentionDays)} must be at least 1 (was {RetentionDays}).", nameof(RetentionDays));
        }

        if (RetentionMaxAge is { } age && age <= TimeSpan.Zero)
        {
            throw new ArgumentException($"{nameof(RetentionMaxAge)} must be positive (was {age}).", nameof(RetentionMaxAge));
        }

        if (RetentionMaxBytes is < 1 << 20)
        {
            throw new ArgumentException($"{nameof(RetentionMaxBytes)} must be at least 1048576 (was {RetentionMaxBytes}).", nameof(RetentionMaxBytes));
        }

        if (CopyStreams is < 1 or > 16)
        {
            throw new ArgumentException($"{nameof(CopyStreams)} must be 1..16 (was {CopyStreams}).", nameof(CopyStreams));
        }

        if (!Enum.IsDefined(FullText))
        {
            throw new ArgumentException($"{nameof(FullText)} must be trigram or none (was {FullText}).", nameof(FullText));
        }

        if (SealAfter < TimeSpan.Zero)
        {
            throw new ArgumentException($"{nameof(SealAfter)} must not be negative (was {SealAfter}).", nameof(SealAfter));
        }

        return this;
    }
}

/// <summary>Which full-text index a PostgreSQL store builds on closed days.</summary>
public enum PostgresFullText
{
    /// <summary>A pg_trgm GIN index on body, built when the day closes (when pg_trgm is installed).</summary>
    Trigram,

    /// <summary>None: full-text terms scan.</summary>
    None,
}
