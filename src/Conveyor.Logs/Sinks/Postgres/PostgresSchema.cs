using System.Globalization;
using Npgsql;

namespace Conveyor.Logs.Sinks.Postgres;

/// <summary>
/// The PostgreSQL schema: <c>events</c> partitioned by day on <c>ts</c> (the primary key (ts, id) includes the
/// partition key, and ts is derived from the event alone, so a replay meets its first copy in the same partition),
/// <c>dead_letters</c>, and a version table driving migrations. Migrations run under an advisory lock so several
/// writers starting at once migrate once.
/// </summary>
/// <remarks>
/// Built for ingest (version 2): the day being written carries only what every write needs — the primary key on
/// (ts, id), which also serves newest-first reads since rows arrive roughly in time order and so append at its right
/// edge, and a BRIN index on ts (a few pages per partition) for time ranges. The indexes that cost most per row —
/// B-trees led by status, severity and client, and the pg_trgm GIN index on body — are built on a day's partition
/// once the day has closed (<see cref="SealSql"/>), concurrently, outside the writer's path.
/// </remarks>
internal static class PostgresSchema
{
    private const long MigrationLock = 0x436F6E7665796F72; // "Conveyor"

    private static readonly string[] Migrations =
    [
        """
        CREATE TABLE events (
            id text NOT NULL,
            ts timestamptz NOT NULL,
            ts_offset integer,
            observed_ts timestamptz NOT NULL,
            observed_offset integer NOT NULL,
            severity_number integer NOT NULL,
            severity_text text,
            status integer,
            method text,
            client text,
            url text,
            user_agent text,
            source text NOT NULL,
            body text NOT NULL,
            attributes jsonb NOT NULL,
            resource jsonb,
            PRIMARY KEY (id, ts)) PARTITION BY RANGE (ts);
        CREATE INDEX events_ts ON events (ts);
        CREATE INDEX events_severity_ts ON events (severity_number, ts);
        CREATE INDEX events_status_ts ON events (status, ts);
        CREATE INDEX events_client_ts ON events (client, ts);
        CREATE TABLE dead_letters (
            id text PRIMARY KEY,
            time timestamptz NOT NULL,
            source text NOT NULL,
            parser text NOT NULL,
            reason text NOT NULL,
            raw_line text NOT NULL);
        CREATE INDEX dead_letters_time ON dead_letters (time);
        """,
        """
        ALTER TABLE events ADD COLUMN trace_id text, ADD COLUMN span_id text, ADD COLUMN trace_flags integer, ADD COLUMN event_name text;
        DROP INDEX IF EXISTS events_body_trgm;
        DROP INDEX IF EXISTS events_ts;
        DROP INDEX IF EXISTS events_severity_ts;
        DROP INDEX IF EXISTS events_status_ts;
        DROP INDEX IF EXISTS events_client_ts;
        ALTER TABLE events DROP CONSTRAINT events_pkey;
        ALTER TABLE events ADD PRIMARY KEY (ts, id);
        CREATE INDEX events_ts_brin ON events USING brin (ts);
        CREATE TABLE conveyor_sealed (day date PRIMARY KEY, sealed_at timestamptz NOT NULL DEFAULT now());
        """,
        // Version 3: the primary key compares ids byte by byte. Under a database's default collation (C.UTF-8,
        // en_US.UTF-8: anything but C or POSIX) every id comparison in the key goes through strcoll, and ids are
        // compared whenever rows share a timestamp, which for second-resolution access logs at a high rate is most
        // inserts. Byte order is also the order SQLite and DuckDB give ids, so a page ends at the same row on every
        // store. The heap is not rewritten; the key's indexes are rebuilt once.
        """
        ALTER TABLE events ALTER COLUMN id TYPE text COLLATE "C";
        """,
    ];

    public static int CurrentVersion => Migrations.Length;

    /// <summary>Brings the schema to <see cref="CurrentVersion"/>; returns whether pg_trgm is available for closed days.</summary>
    public static async Task<bool> MigrateAsync(NpgsqlConnection connection, CancellationToken ct)
    {
        await using var tx = await connection.BeginTransactionAsync(ct).ConfigureAwait(false);
        await ExecuteAsync(connection, $"SELECT pg_advisory_xact_lock({MigrationLock})", ct).ConfigureAwait(false);
        await ExecuteAsync(connection, "CREATE TABLE IF NOT EXISTS conveyor_schema (version integer NOT NULL)", ct).ConfigureAwait(false);
        await using (var cmd = new NpgsqlCommand("SELECT max(version) FROM conveyor_schema", connection))
        {
            var v = await cmd.ExecuteScalarAsync(ct).ConfigureAwait(false);
            var version = v is int i ? i : 0;
            if (version > CurrentVersion)
            {
                throw new InvalidOperationException($"The PostgreSQL schema is version {version}, newer than this Conveyor understands ({CurrentVersion}); upgrade Conveyor.");
            }

            for (var m = version; m < CurrentVersion; m++)
            {
                await ExecuteAsync(connection, Migrations[m], ct).ConfigureAwait(false);
            }

            if (version < CurrentVersion)
            {
                await ExecuteAsync(connection, $"DELETE FROM conveyor_schema; INSERT INTO conveyor_schema VALUES ({CurrentVersion})", ct).ConfigureAwait(false);
            }
        }

        var trigram = await EnsureTrigramAsync(connection, ct).ConfigureAwait(false);
        await tx.CommitAsync(ct).ConfigureAwait(false);
        return trigram;
    }

    /// <summary>
    /// pg_trgm (postgresql-contrib) makes <c>body ILIKE '%word%'</c> an index scan on closed days. Without it searches
    /// still work, by scanning, so a missing extension is not fatal.
    /// </summary>
    private static async Task<bool> EnsureTrigramAsync(NpgsqlConnection connection, CancellationToken ct)
    {
        await ExecuteAsync(connection, "SAVEPOINT trigram", ct).ConfigureAwait(false);
        try
        {
            await ExecuteAsync(connection, "CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public", ct).ConfigureAwait(false);
            await ExecuteAsync(connection, "RELEASE SAVEPOINT trigram", ct).ConfigureAwait(false);
            return true;
        }
        catch (PostgresException)
        {
            await ExecuteAsync(connection, "ROLLBACK TO SAVEPOINT trigram", ct).ConfigureAwait(false);
            return false;
        }
    }

    /// <summary>
    /// The indexes a closed day gets, each built concurrently (writes to that day — late events — go on meanwhile):
    /// B-trees for the field filters the query language has columns for, newest first within each value, and with
    /// <paramref name="trigram"/> the GIN index that serves substring search.
    /// </summary>
    public static IEnumerable<string> SealSql(DateOnly day, bool trigram)
    {
        var p = PartitionName(day);
        yield return $"CREATE INDEX CONCURRENTLY IF NOT EXISTS {p}_status_ts ON {p} (status, ts)";
        yield return $"CREATE INDEX CONCURRENTLY IF NOT EXISTS {p}_severity_ts ON {p} (severity_number, ts)";
        yield return $"CREATE INDEX CONCURRENTLY IF NOT EXISTS {p}_client_ts ON {p} (client, ts)";
        if (trigram)
        {
            yield return $"CREATE INDEX CONCURRENTLY IF NOT EXISTS {p}_body_trgm ON {p} USING gin (body public.gin_trgm_ops)";
        }
    }

    /// <summary>Indexes of the partition <c>@partition</c> left invalid by an interrupted concurrent build; they must be dropped before building again.</summary>
    public const string InvalidIndexesSql =
        "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = @partition::regclass AND NOT i.indisvalid";

    public static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken ct) =>
        await ExecuteAsync(connection, sql, timeoutSeconds: null, ct).ConfigureAwait(false);

    /// <summary>Runs <paramref name="sql"/> with a command timeout of its own (0: none) instead of the connection string's.</summary>
    public static async Task ExecuteAsync(NpgsqlConnection connection, string sql, int? timeoutSeconds, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, connection);
        if (timeoutSeconds is { } t)
        {
            cmd.CommandTimeout = t;
        }

        await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }

    /// <summary>The partition holding UTC day <paramref name="day"/>; the name is derived from the date only.</summary>
    public static string PartitionName(DateOnly day) => string.Create(CultureInfo.InvariantCulture, $"events_p{day:yyyyMMdd}");

    /// <summary>The day a partition name stands for, or null for a table that is not one of ours.</summary>
    public static DateOnly? PartitionDay(string name) =>
        name.StartsWith("events_p", StringComparison.Ordinal)
        && DateOnly.TryParseExact(name.AsSpan("events_p".Length), "yyyyMMdd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var day)
        && name == PartitionName(day)
            ? day
            : null;

    public static string CreatePartitionSql(DateOnly day) => string.Create(
        CultureInfo.InvariantCulture,
        $"CREATE TABLE IF NOT EXISTS {PartitionName(day)} PARTITION OF events FOR VALUES FROM ('{day:yyyy-MM-dd} 00:00:00+00') TO ('{day.AddDays(1):yyyy-MM-dd} 00:00:00+00')");
}
