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

    /// <summary>Partitions whose day ended more than this many days ago are dropped by <see cref="PostgresSink.ApplyRetentionAsync"/>. Default null: kept.</summary>
    public int? RetentionDays { get; set; }

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

        return this;
    }
}
