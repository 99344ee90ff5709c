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
    /// <summary>Times are UTC <c>TIMESTAMP</c>s (microseconds) plus the record's offset in minutes; attributes not held in
    /// a typed column are a JSON object.</summary>
    private static readonly string[] Migrations =
    [
        """
        CREATE TABLE events (
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
            body VARCHAR NOT NULL,
            trace_id VARCHAR,
            span_id VARCHAR,
            trace_flags INTEGER,
            event_name VARCHAR,
            attributes JSON NOT NULL,
            resource JSON);
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
        """,
    ];

    /// <summary>The version a database has after <see cref="Migrate"/>.</summary>
    public static int CurrentVersion => Migrations.Length;

    /// <summary>Brings the database to <see cref="CurrentVersion"/>; refuses a database newer than this code.</summary>
    /// <exception cref="InvalidOperationException">The database was written by a newer Conveyor.</exception>
    public static void Migrate(DuckDBConnection connection)
    {
        Execute(connection, "CREATE TABLE IF NOT EXISTS conveyor_schema (version INTEGER NOT NULL)");
        var version = GetVersion(connection);
        if (version > CurrentVersion)
        {
            throw new InvalidOperationException(
                $"the database is Conveyor schema version {version}, newer than this Conveyor understands ({CurrentVersion}); upgrade Conveyor");
        }

        for (var v = version; v < CurrentVersion; v++)
        {
            using var tx = connection.BeginTransaction();
            Execute(connection, Migrations[v]);
            Execute(connection, $"DELETE FROM conveyor_schema; INSERT INTO conveyor_schema VALUES ({v + 1})");
            tx.Commit();
        }
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
