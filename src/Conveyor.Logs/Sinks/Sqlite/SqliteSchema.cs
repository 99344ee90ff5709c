using Microsoft.Data.Sqlite;

namespace Conveyor.Logs.Sinks.Sqlite;

/// <summary>
/// The SQLite schema and its migrations, versioned by <c>PRAGMA user_version</c>: migration <c>i</c> takes a
/// database from version <c>i</c> to <c>i + 1</c>, each in its own transaction, at start-up. The full-text index is
/// not versioned: it follows <see cref="SqliteSinkOptions.FullText"/> (<see cref="EnsureFullText"/>), and readers
/// learn which one a database has from the database itself (<see cref="ReadFullText"/>).
/// </summary>
internal static class SqliteSchema
{
    /// <summary>Times are UTC microseconds since the Unix epoch; offsets are minutes; attributes are JSON text.</summary>
    private static readonly string[] Migrations =
    [
        """
        CREATE TABLE events (
            id TEXT NOT NULL UNIQUE,
            ts INTEGER NOT NULL,
            ts_offset INTEGER,
            observed_ts INTEGER NOT NULL,
            observed_offset INTEGER NOT NULL,
            severity_number INTEGER NOT NULL,
            severity_text TEXT,
            status INTEGER,
            method TEXT,
            client TEXT,
            url TEXT,
            user_agent TEXT,
            source TEXT NOT NULL,
            body TEXT NOT NULL,
            attributes TEXT NOT NULL,
            resource TEXT);
        CREATE INDEX events_ts ON events (ts);
        CREATE INDEX events_severity_ts ON events (severity_number, ts);
        CREATE INDEX events_status_ts ON events (status, ts);
        CREATE INDEX events_client_ts ON events (client, ts);
        CREATE TABLE dead_letters (
            id TEXT NOT NULL UNIQUE,
            time INTEGER NOT NULL,
            source TEXT NOT NULL,
            parser TEXT NOT NULL,
            reason TEXT NOT NULL,
            raw_line TEXT NOT NULL);
        CREATE INDEX dead_letters_time ON dead_letters (time);
        """,

        // OTLP's trace context and event name as columns (LogEvent.TraceId/SpanId/TraceFlags/EventName).
        """
        ALTER TABLE events ADD COLUMN trace_id TEXT;
        ALTER TABLE events ADD COLUMN span_id TEXT;
        ALTER TABLE events ADD COLUMN trace_flags INTEGER;
        ALTER TABLE events ADD COLUMN event_name TEXT;
        """,
    ];

    /// <summary>The version a database has after <see cref="Migrate"/>.</summary>
    public static int CurrentVersion => Migrations.Length;

    public static int GetVersion(SqliteConnection connection)
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = "PRAGMA user_version";
        return Convert.ToInt32(cmd.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// Sets what must be set before the first table exists (and before WAL mode writes the header):
    /// incremental auto-vacuum, so retention can hand freed pages back without a full VACUUM.
    /// </summary>
    /// <returns>True when the database is new (holds no table yet).</returns>
    public static bool PrepareNewDatabase(SqliteConnection connection)
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = "SELECT count(*) FROM sqlite_schema";
        if (Convert.ToInt64(cmd.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) != 0)
        {
            return false;
        }

        Execute(connection, "PRAGMA auto_vacuum = INCREMENTAL");
        return true;
    }

    /// <summary>Brings the database to <see cref="CurrentVersion"/>; refuses a database newer than this code.</summary>
    public static void Migrate(SqliteConnection connection)
    {
        var version = GetVersion(connection);
        if (version > CurrentVersion)
        {
            throw new InvalidOperationException(
                $"The database is schema version {version}, newer than this Conveyor understands ({CurrentVersion}); upgrade Conveyor.");
        }

        for (var v = version; v < CurrentVersion; v++)
        {
            using var tx = connection.BeginTransaction();
            Execute(connection, Migrations[v], tx);
            Execute(connection, $"PRAGMA user_version = {v + 1}", tx);
            tx.Commit();
        }
    }

    /// <summary>
    /// Makes the database's full-text index the one asked for: creates it, or replaces another kind and indexes the
    /// rows already stored (a one-time cost at start-up proportional to the store). Databases written before the
    /// option existed have a trigram index.
    /// </summary>
    /// <returns>True when the index was (re)built.</returns>
    public static bool EnsureFullText(SqliteConnection connection, SqliteFullText wanted)
    {
        if (ReadFullText(connection) == wanted)
        {
            return false;
        }

        using var tx = connection.BeginTransaction();
        Execute(connection, """
            DROP TRIGGER IF EXISTS events_fts_insert;
            DROP TRIGGER IF EXISTS events_fts_delete;
            DROP TRIGGER IF EXISTS events_fts_update;
            DROP TABLE IF EXISTS events_fts;
            """, tx);
        if (wanted != SqliteFullText.None)
        {
            // External content: the index holds tokens only, the body stays in events once. columnsize=0 skips the
            // per-row size record no query here needs (it only feeds ranking).
            var tokenizer = wanted == SqliteFullText.Trigram ? "tokenize = 'trigram'" : "tokenize = 'unicode61', detail = none, columnsize = 0";
            Execute(connection, $"""
                CREATE VIRTUAL TABLE events_fts USING fts5 (body, content = 'events', content_rowid = 'rowid', {tokenizer});
                CREATE TRIGGER events_fts_insert AFTER INSERT ON events BEGIN
                    INSERT INTO events_fts (rowid, body) VALUES (new.rowid, new.body);
                END;
                CREATE TRIGGER events_fts_delete AFTER DELETE ON events BEGIN
                    INSERT INTO events_fts (events_fts, rowid, body) VALUES ('delete', old.rowid, old.body);
                END;
                CREATE TRIGGER events_fts_update AFTER UPDATE OF body ON events BEGIN
                    INSERT INTO events_fts (events_fts, rowid, body) VALUES ('delete', old.rowid, old.body);
                    INSERT INTO events_fts (rowid, body) VALUES (new.rowid, new.body);
                END;
                INSERT INTO events_fts (events_fts) VALUES ('rebuild');
                """, tx);
        }

        tx.Commit();
        return true;
    }

    /// <summary>The full-text index the database has, read from its schema.</summary>
    public static SqliteFullText ReadFullText(SqliteConnection connection)
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'events_fts'";
        return cmd.ExecuteScalar() switch
        {
            string sql when sql.Contains("trigram", StringComparison.OrdinalIgnoreCase) => SqliteFullText.Trigram,
            string => SqliteFullText.Words,
            _ => SqliteFullText.None,
        };
    }

    /// <summary>
    /// <c>PRAGMA quick_check</c>: reads every page and checks the b-tree structure (not index/row agreement), so a
    /// damaged file is found before the service accepts lines it could not read back. Null when the file is sound.
    /// </summary>
    public static string? QuickCheck(SqliteConnection connection)
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = "PRAGMA quick_check(5)";
        using var reader = cmd.ExecuteReader();
        var problems = new List<string>();
        while (reader.Read())
        {
            problems.Add(reader.GetString(0));
        }

        return problems is ["ok"] ? null : string.Join("; ", problems);
    }

    public static void Execute(SqliteConnection connection, string sql, SqliteTransaction? tx = null)
    {
        using var cmd = connection.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }
}
