using System.Globalization;
using Npgsql;

namespace Conveyor.Logs.Sinks.Postgres;

/// <summary>
/// The PostgreSQL schema: <c>events</c> partitioned by day on <c>ts</c> (the primary key (id, ts) includes the
/// partition key, and ts is derived from the event alone, so a replay meets its first copy in the same partition),
/// <c>dead_letters</c>, and a version table driving migrations. Migrations run under an advisory lock so several
/// writers starting at once migrate once.
/// </summary>
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
    ];

    public static int CurrentVersion => Migrations.Length;

    /// <summary>Brings the schema to <see cref="CurrentVersion"/>; returns whether the body trigram index exists.</summary>
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

        var trigram = await EnsureTrigramIndexAsync(connection, ct).ConfigureAwait(false);
        await tx.CommitAsync(ct).ConfigureAwait(false);
        return trigram;
    }

    /// <summary>
    /// pg_trgm (postgresql-contrib) makes <c>body ILIKE '%word%'</c> an index scan. Without it searches still work,
    /// by scanning, so a missing extension is not fatal.
    /// </summary>
    private static async Task<bool> EnsureTrigramIndexAsync(NpgsqlConnection connection, CancellationToken ct)
    {
        await ExecuteAsync(connection, "SAVEPOINT trigram", ct).ConfigureAwait(false);
        try
        {
            await ExecuteAsync(connection, "CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public", ct).ConfigureAwait(false);
            await ExecuteAsync(connection, "CREATE INDEX IF NOT EXISTS events_body_trgm ON events USING gin (body public.gin_trgm_ops)", ct).ConfigureAwait(false);
            await ExecuteAsync(connection, "RELEASE SAVEPOINT trigram", ct).ConfigureAwait(false);
            return true;
        }
        catch (PostgresException)
        {
            await ExecuteAsync(connection, "ROLLBACK TO SAVEPOINT trigram", ct).ConfigureAwait(false);
            return false;
        }
    }

    public static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, connection);
        await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }

    /// <summary>The partition holding UTC day <paramref name="day"/>; the name is derived from the date only.</summary>
    public static string PartitionName(DateOnly day) => string.Create(CultureInfo.InvariantCulture, $"events_p{day:yyyyMMdd}");

    public static string CreatePartitionSql(DateOnly day) => string.Create(
        CultureInfo.InvariantCulture,
        $"CREATE TABLE IF NOT EXISTS {PartitionName(day)} PARTITION OF events FOR VALUES FROM ('{day:yyyy-MM-dd} 00:00:00+00') TO ('{day.AddDays(1):yyyy-MM-dd} 00:00:00+00')");
}
