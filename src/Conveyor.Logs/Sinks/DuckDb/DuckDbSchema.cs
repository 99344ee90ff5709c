using DuckDB.NET.Data;

namespace Conveyor.Logs.Sinks.DuckDb;

/// <summary>
/// The DuckDB schema and its migrations, versioned in <c>conveyor_schema</c>: migration <c>i</c> takes a database from
/// version <c>i</c> to <c>i + 1</c> in its own transaction, at start-up. There is no index at all: rows are appended in
/// arrival order, so DuckDB's per-row-group min/max (zone maps) prune time ranges, and searches scan the columns they
/// name. Column order is the appender's order (<see cref="DuckDbSink"/>).
/// </summary>
internal static class DuckDbSchema
{
    /// <summary>
    /// The storage format new files are written in (DuckDB's <c>storage_compatibility_version</c>; DuckDB's own default
    /// stays v1.0.0, readable by old libraries). ZSTD needs v1.2.0 or later; Conveyor reads its files with the DuckDB it
    /// ships, so nothing older has to read them. An existing file keeps the format it was created in.
    /// </summary>
    public const string StorageVersion = "v1.5.0";

    /// <summary>The first storage format whose files may hold ZSTD-compressed columns.</summary>
    private static readonly Version ZstdStorage = new(1, 2, 0);

    /// <summary>
    /// 1: times are UTC <c>TIMESTAMP</c>s (microseconds) plus the record's offset in minutes; attributes not held in a
    /// typed column are a JSON object. 2: body and attributes are ZSTD-compressed (<see cref="CompressTextColumns"/>).
    /// 3: <c>body_filters</c>, a token filter per appended batch (<see cref="AddBodyFilters"/>).
    /// </summary>
    private static readonly Action<DuckDBConnection>[] Migrations =
    [
        static c => Execute(c, EventsTable("events", textCompression: string.Empty) + """
        CREATE TABLE dead_letters (
            time TIMESTAMP NOT NULL,
            id VARCHAR NOT NULL,
            source VARCHAR NOT NULL,
            parser VARCHAR NOT NULL,
            reason VARCHAR NOT NULL,
            raw_line VARCHAR NOT NULL);
        CREATE TABLE stored_ranges (
            kind VARCHAR NOT NULL,
            stream VARCHAR NOT NULL,
            lo BIGINT NOT NULL,
            hi BIGINT NOT NULL,
            written TIMESTAMP NOT NULL);
        """),
        CompressTextColumns,
        AddBodyFilters,
    ];

    /// <summary>The version a database has after <see cref="Migrate(DuckDBConnection)"/>.</summary>
    public static int CurrentVersion => Migrations.Length;

    /// <summary>Brings the database to <see cref="CurrentVersion"/>; refuses a database newer than this code.</summary>
    /// <exception cref="InvalidOperationException">The database was written by a newer Conveyor.</exception>
    public static void Migrate(DuckDBConnection connection) => Migrate(connection, CurrentVersion);

    /// <summary>Brings the database to <paramref name="target"/> (tests make the files older versions wrote).</summary>
    internal static void Migrate(DuckDBConnection connection, int target)
    {
        Execute(connection, "CREATE TABLE IF NOT EXISTS conveyor_schema (version INTEGER NOT NULL)");
        var version = GetVersion(connection);
        if (version > CurrentVersion)
        {
            throw new InvalidOperationException(
                $"the database is Conveyor schema version {version}, newer than this Conveyor understands ({CurrentVersion}); upgrade Conveyor");
        }

        for (var v = version; v < target; v++)
        {
            using var tx = connection.BeginTransaction();
            Migrations[v](connection);
            Execute(connection, $"DELETE FROM conveyor_schema; INSERT INTO conveyor_schema VALUES ({v + 1})");
            tx.Commit();
        }
    }

    /// <summary>
    /// Migration 2. Body and attributes were 90 % of the file under DuckDB's own choice (FSST: 81 and 70 bytes per access
    /// log line); ZSTD stores them in 24 and 17, and a scan of the body for a word costs about the same. DuckDB has no
    /// statement that changes a column's compression, so the table is rebuilt, rows in their order (DuckDB keeps
    /// insertion order), and the hint applies to every later checkpoint. A file in an older storage format cannot hold
    /// ZSTD (DuckDB would store the hinted columns uncompressed), so there the table stays as it is: its new rows are
    /// compressed as before, and <c>conveyor store copy</c> to a new file gives the smaller layout.
    /// </summary>
    private static void CompressTextColumns(DuckDBConnection connection)
    {
        if (FileStorageVersion(connection) is not { } storage || storage < ZstdStorage)
        {
            return;
        }

        Execute(connection, EventsTable("events_v2", " USING COMPRESSION zstd") + """
            INSERT INTO events_v2 SELECT * FROM events;
            DROP TABLE events;
            ALTER TABLE events_v2 RENAME TO events;
            """);
    }

    /// <summary>
    /// Migration 3. One row per appended batch of events: its time range, row count and <see cref="BodyFilter"/> bits
    /// (a power-of-two count of 64-bit words). The rows already stored get one row over their whole time range with no
    /// bits, which every search scans: the filter only prunes, so an unfiltered range is always a candidate.
    /// </summary>
    private static void AddBodyFilters(DuckDBConnection connection) => Execute(connection, """
        CREATE TABLE body_filters (
            ts_lo TIMESTAMP NOT NULL,
            ts_hi TIMESTAMP NOT NULL,
            row_count INTEGER NOT NULL,
            bits UBIGINT[]);
        INSERT INTO body_filters SELECT min(ts), max(ts), count(*), NULL FROM events HAVING count(*) > 0;
        """);

    /// <summary>
    /// The events table, columns in the appender's order; <paramref name="textCompression"/> follows the body and
    /// attributes columns (empty: DuckDB chooses).
    /// </summary>
    private static string EventsTable(string name, string textCompression) => $"""
        CREATE TABLE {name} (
            ts TIMESTAMP NOT NULL,
            ts_offset INTEGER,
            observed_ts TIMESTAMP NOT NULL,
            observed_offset INTEGER NOT NULL,
            severity_number INTEGER NOT NULL,
            severity_text VARCHAR,
            status INTEGER,
            method VARCHAR,
            client VARCHAR,
            url VARCHAR,
            user_agent VARCHAR,
            source VARCHAR NOT NULL,
            id VARCHAR NOT NULL,
            body VARCHAR NOT NULL{textCompression},
            trace_id VARCHAR,
            span_id VARCHAR,
            trace_flags INTEGER,
            event_name VARCHAR,
            attributes JSON NOT NULL{textCompression},
            resource JSON);

        """;

    /// <summary>The storage format of the open file (<c>v1.0.0+</c> is read as 1.0.0); null when DuckDB does not say.</summary>
    internal static Version? FileStorageVersion(DuckDBConnection connection)
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = "SELECT tags['storage_version'] FROM duckdb_databases() WHERE database_name = current_database()";
        var text = cmd.ExecuteScalar() as string;
        return Version.TryParse(text?.TrimStart('v').TrimEnd('+'), out var v) ? v : null;
    }

    public static int GetVersion(DuckDBConnection connection)
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = "SELECT coalesce(max(version), 0) FROM conveyor_schema";
        return Convert.ToInt32(cmd.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }

    public static void Execute(DuckDBConnection connection, string sql)
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    public static long Scalar(DuckDBConnection connection, string sql)
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = sql;
        return Convert.ToInt64(cmd.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }
}
