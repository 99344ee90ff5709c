using System.Data.Common;
using System.Runtime.CompilerServices;
using System.Text;
using Conveyor.Logs.Model;
using Conveyor.Logs.Sinks;
using Conveyor.Logs.Sinks.DuckDb;
using Conveyor.Logs.Sinks.Sqlite;
using DuckDB.NET.Data;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Conveyor.Logs.Query;

/// <summary>Opens the query side of a store by URI.</summary>
public static class LogStore
{
    /// <summary>The store <c>conveyor run</c> writes by default.</summary>
    public const string DefaultUri = "duckdb:" + DuckDbSinkOptions.DefaultPath;

    /// <summary>
    /// Opens <c>duckdb:PATH</c>, <c>sqlite:PATH</c> (the file must exist) or <c>postgres:CONNSTR</c> (an Npgsql connection
    /// string; <c>Search Path=SCHEMA</c> picks the schema the sink wrote to). DuckDB admits one process per file: when a
    /// running <c>conveyor run</c> holds it and advertises its address beside it (<see cref="ServiceAdvert"/>), the store
    /// searches through that service's <c>/api/search</c>; otherwise it opens the file read-only. In the process that
    /// writes it, it shares the writer's database instance.
    /// </summary>
    /// <exception cref="ArgumentException">The URI has another scheme.</exception>
    /// <exception cref="LogStoreNotFoundException">The database file does not exist.</exception>
    public static ILogStore Open(string uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        if (uri.StartsWith("duckdb:", StringComparison.OrdinalIgnoreCase))
        {
            var path = Path.GetFullPath(uri["duckdb:".Length..]);
            if (!File.Exists(path))
            {
                throw new LogStoreNotFoundException($"No DuckDB store at '{path}' (nothing has been stored there yet?).");
            }

            if (ServiceAdvert.FindLive(path) is { } advert)
            {
                return new HttpLogStore(new Uri(advert.Url), bearerToken: null);
            }

            var defaults = new DuckDbSinkOptions();
            return new SqlLogStore(SqlDialect.DuckDb, () => DuckDbSink.NewConnection(path, defaults.MemoryLimit, defaults.Threads, readOnly: true), null, path);
        }

        if (uri.StartsWith("sqlite:", StringComparison.OrdinalIgnoreCase))
        {
            var path = uri["sqlite:".Length..];
            if (!File.Exists(path))
            {
                throw new LogStoreNotFoundException($"No SQLite store at '{path}' (nothing has been stored there yet?).");
            }

            return new SqlLogStore(SqlDialect.Sqlite, () => new SqliteConnection(SqliteSink.ConnectionString(path, SqliteOpenMode.ReadOnly)), null);
        }

        if (uri.StartsWith("postgres:", StringComparison.OrdinalIgnoreCase) || uri.StartsWith("postgresql:", StringComparison.OrdinalIgnoreCase))
        {
            var dataSource = NpgsqlDataSource.Create(uri[(uri.IndexOf(':', StringComparison.Ordinal) + 1)..]);
            return new SqlLogStore(SqlDialect.Postgres, dataSource.CreateConnection, dataSource);
        }

        throw new ArgumentException($"Unknown store '{uri}'; expected duckdb:PATH, sqlite:PATH or postgres:CONNSTR.", nameof(uri));
    }
}

/// <summary>One implementation for the SQL stores: they share the column layout of <see cref="StoredEvent"/>.</summary>
/// <param name="dialect">The store's SQL.</param>
/// <param name="connect">A new, closed connection per call.</param>
/// <param name="owned">Disposed with the store (a data source).</param>
/// <param name="duckDbPath">The DuckDB file, to name it when another process holds it.</param>
internal sealed class SqlLogStore(SqlDialect dialect, Func<DbConnection> connect, IAsyncDisposable? owned, string? duckDbPath = null, SearchPriority? priority = null) : ILogStore
{
    private const string EventColumns = "id, ts, ts_offset, observed_ts, observed_offset, severity_number, severity_text, source, body, attributes, resource, trace_id, span_id, trace_flags, event_name";

    /// <summary>
    /// DuckDB and PostgreSQL keep the hot attributes only in their columns (see <see cref="StoredEvent.TakeHot"/>);
    /// PostgreSQL rows written before that hold them in the JSON too, whose value wins on reading (the same one).
    /// </summary>
    private const string HotEventColumns = EventColumns + ", client, method, url, status, user_agent";
    private const string DeadLetterColumns = "id, source, parser, reason, raw_line, time";

    /// <summary>Newest rows scanned first when a SQLite query has full-text terms; see <see cref="SearchAsync"/>.</summary>
    internal const int NewestScanRows = 20_000;

    private string Columns => dialect == SqlDialect.Sqlite ? EventColumns : HotEventColumns;

    public async Task<LogQueryResult> SearchAsync(LogQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        using var searching = priority?.Enter() ?? default;
        var node = query.Parse();
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        var fullText = FullTextOf(connection);
        var blocks = BodyBlocks(connection, node, query.DeadLetters);
        if (dialect == SqlDialect.Sqlite && !query.DeadLetters && QueryCompiler.HasOnlyAsciiFullText(node))
        {
            // A common word matches a large share of the rows, and the FTS index must hand over (and verify) all
            // of them before the newest can be picked. Testing the newest rows one by one finds them at once; if
            // the newest NewestScanRows rows hold enough matches they are exactly the answer (every other match
            // is older), otherwise the word is rare and the index is the fast way.
            var scan = QueryCompiler.Compile(node, dialect, scanText: true, fullText: fullText);
            var newest = await ReadAsync(connection, query, scan, NewestScanRows, cancellationToken).ConfigureAwait(false);
            if (newest.Count >= query.Limit)
            {
                return newest;
            }
        }

        var compiled = QueryCompiler.Compile(node, dialect, query.DeadLetters, false, fullText, blocks);
        if (dialect == SqlDialect.DuckDb && !query.DeadLetters && (blocks is null || blocks.Count == 0) && query.Until is null)
        {
            // Newest first without reading every row: a page of the newest matches is usually among the newest rows,
            // so the search tries windows of the last FirstWindowRows rows, 8x as many, … (by row id: rows are stored
            // in arrival order and DuckDB skips the row groups below a row id bound) before it reads all. A window
            // answers exactly when it holds the whole page (offset included) and no match below it is newer than the
            // page's oldest row (NewerBelowAsync, which the ts zone maps answer from a few row groups when rows
            // arrive close to time order; a late, newer row found there sends the search on to the next window).
            // Windows by time could not do this: web servers stamp whole seconds, and a second of a busy server is
            // hundreds of thousands of rows. A query with an until reads its range at once (the range bounds it), and
            // a rare word (one the body filters answer for) skips the windows: its blocks already bound what it reads.
            var rows = RowCount(connection);
            for (long n = FirstWindowRows; n * 2 <= rows; n *= 8)
            {
                var from = rows - n;
                var (newest, oldest) = await ReadRowsAsync(connection, query, compiled, from, lateMaterialization: n > EagerWindowRows, cancellationToken).ConfigureAwait(false);
                Interlocked.Increment(ref _windowsRead);
                if (newest.Count >= query.Limit && oldest is { } ts && !await NewerBelowAsync(connection, query, compiled, from, ts, cancellationToken).ConfigureAwait(false))
                {
                    return newest;
                }
            }
        }

        return await ReadAsync(connection, query, compiled, null, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The newest-first windows' first size, in rows (see <see cref="SearchAsync"/>); tests set their own. 5,000: on 3M
    /// rows a common word's page of 50 took 34–56 ms from a first window of 5,000 against 54–99 ms from one of 50,000,
    /// other pages alike (docs/BENCHMARKS.md, "Newest-first pages"); a predicate matching nothing pays every window,
    /// at most about 1.6x one full read (the windows, each under half the store, add up to under 0.6 of it).
    /// </summary>
    internal int FirstWindowRows { get; init; } = 5_000;

    /// <summary>Newest-first windows read by this store's searches (DuckDB), for tests and diagnostics.</summary>
    internal long WindowsRead => Interlocked.Read(ref _windowsRead);

    private long _windowsRead;

    /// <summary>
    /// Windows of up to this many rows are read with DuckDB's late materialization off: it finds a page's row ids first
    /// and then reads the other columns of those rows in a second scan, whose set-up walks every row group of the table
    /// (~10 ms on 10M rows, growing with the store), while a window this small costs less carried whole through the
    /// sort. Measured on 10M rows: a page of 100 from the newest 5,000 rows 3.9 ms against 14.6 with it, from 40,000
    /// 11.0 against 14.7 (docs/BENCHMARKS.md, "Searches before writes").
    /// </summary>
    internal const int EagerWindowRows = 40_000;

    /// <summary>The store's rows, from DuckDB's metadata (no scan).</summary>
    private static long RowCount(DbConnection connection)
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = "SELECT count(*) FROM events";
        return Convert.ToInt64(cmd.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// Whether a match of <paramref name="compiled"/> below row id <paramref name="from"/> is newer than
    /// <paramref name="oldest"/> (a window's page's oldest row): then the window's page is not the answer. A match as old
    /// as it sorts after the page's rows of that time, which all have higher row ids.
    /// </summary>
    private async Task<bool> NewerBelowAsync(DbConnection connection, LogQuery query, CompiledQuery compiled, long from, DateTime oldest, CancellationToken cancellationToken)
    {
        var parameters = new List<KeyValuePair<string, object>>(compiled.Parameters);
        var sql = new StringBuilder("SELECT count(*) FROM (SELECT 1 FROM events WHERE ").Append(compiled.Where);
        AppendTimeRange(sql, parameters, query, "ts");
        sql.Append(" AND rowid < $rowfrom AND ts > $oldest LIMIT 1)");
        parameters.Add(new("$rowfrom", from));
        parameters.Add(new("$oldest", oldest));
        await using var cmd = Command(connection, sql.ToString(), parameters);
        return Convert.ToInt64(await cmd.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture) > 0;
    }

    /// <summary>Body filter blocks this store's searches kept and skipped (DuckDB), for tests and diagnostics.</summary>
    internal (long Kept, long Skipped) BodyBlocksSeen => (Interlocked.Read(ref _blocksKept), Interlocked.Read(ref _blocksSkipped));

    private long _blocksKept;
    private long _blocksSkipped;

    /// <summary>
    /// DuckDB: per full-text term, the blocks whose body filter may hold it (<see cref="BodyCandidates"/>), so the
    /// search reads only their rows' bodies; null elsewhere.
    /// </summary>
    private Dictionary<string, BodyCandidates>? BodyBlocks(DbConnection connection, QueryNode node, bool deadLetters)
    {
        if (dialect != SqlDialect.DuckDb || deadLetters)
        {
            return null;
        }

        var blocks = new Dictionary<string, BodyCandidates>(StringComparer.Ordinal);
        foreach (var term in QueryCompiler.FullTextTerms(node))
        {
            if (BodyCandidates.Find(connection, term) is { } found)
            {
                blocks[term] = found;
                Interlocked.Add(ref _blocksKept, found.Blocks);
                Interlocked.Add(ref _blocksSkipped, found.AllBlocks - found.Blocks);
            }
        }

        return blocks;
    }

    /// <summary>SQLite: the full-text index this database has (each store file says for itself); irrelevant elsewhere.</summary>
    private static SqliteFullText FullTextOf(DbConnection connection) =>
        connection is SqliteConnection sqlite ? SqliteSchema.ReadFullText(sqlite) : SqliteFullText.None;

    private async Task<LogQueryResult> ReadAsync(DbConnection connection, LogQuery query, CompiledQuery compiled, int? newestRows, CancellationToken cancellationToken) =>
        (await ReadCoreAsync(connection, query, compiled, newestRows, null, cancellationToken).ConfigureAwait(false)).Result;

    /// <summary>
    /// DuckDB: the page among the rows from row id <paramref name="from"/> on, and the stored time of its oldest row
    /// (null when the page is empty). See <see cref="EagerWindowRows"/> for <paramref name="lateMaterialization"/>.
    /// </summary>
    private async Task<(LogQueryResult Result, DateTime? Oldest)> ReadRowsAsync(DbConnection connection, LogQuery query, CompiledQuery compiled, long from, bool lateMaterialization, CancellationToken cancellationToken)
    {
        // A setting of this connection's session only (each search opens its own connection).
        if (!lateMaterialization)
        {
            DuckDbSchema.Execute((DuckDBConnection)connection, "SET SESSION late_materialization_max_rows = 0");
        }

        try
        {
            return await ReadCoreAsync(connection, query, compiled, null, from, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (!lateMaterialization)
            {
                DuckDbSchema.Execute((DuckDBConnection)connection, "RESET SESSION late_materialization_max_rows");
            }
        }
    }

    private async Task<(LogQueryResult Result, DateTime? Oldest)> ReadCoreAsync(DbConnection connection, LogQuery query, CompiledQuery compiled, int? newestRows, long? fromRow, CancellationToken cancellationToken)
    {
        var table = query.DeadLetters ? "dead_letters" : "events";
        var time = query.DeadLetters ? "time" : "ts";
        var tieBreak = dialect == SqlDialect.Postgres ? "id" : "rowid";
        var parameters = new List<KeyValuePair<string, object>>(compiled.Parameters);
        var sql = new StringBuilder("SELECT ").Append(query.DeadLetters ? DeadLetterColumns : Columns).Append(" FROM ");
        if (newestRows is { } rows)
        {
            sql.Append("(SELECT rowid, * FROM events WHERE 1");
            AppendTimeRange(sql, parameters, query, time);
            sql.Append(" ORDER BY ts DESC, rowid DESC LIMIT ").Append(Prefix).Append("newest) WHERE ").Append(compiled.Where);
            parameters.Add(new(Prefix + "newest", rows));
        }
        else
        {
            sql.Append(table).Append(" WHERE ").Append(compiled.Where);
            AppendTimeRange(sql, parameters, query, time);
            if (fromRow is { } row)
            {
                sql.Append(" AND rowid >= $rowfrom");
                parameters.Add(new("$rowfrom", row));
            }
        }

        sql.Append(" ORDER BY ").Append(time).Append(" DESC, ").Append(tieBreak).Append(" DESC LIMIT ").Append(Prefix).Append("limit");
        parameters.Add(new(Prefix + "limit", query.Limit));
        if (query.Offset > 0)
        {
            sql.Append(" OFFSET ").Append(Prefix).Append("offset");
            parameters.Add(new(Prefix + "offset", query.Offset));
        }

        await using var cmd = Command(connection, sql.ToString(), parameters);
        await using var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var events = new List<LogEvent>();
        var letters = new List<DeadLetter>();
        DateTime? oldest = null;
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            if (query.DeadLetters)
            {
                letters.Add(ReadDeadLetter(reader));
            }
            else
            {
                events.Add(ReadEvent(reader));
                if (fromRow is not null)
                {
                    // The rows come newest first: the last one read is the page's oldest.
                    oldest = reader.GetDateTime(1);
                }
            }
        }

        return (new LogQueryResult(events, letters), oldest);
    }

    public async Task<long> CountAsync(LogQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        using var searching = priority?.Enter() ?? default;
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        var node = query.Parse();
        var compiled = QueryCompiler.Compile(node, dialect, query.DeadLetters, false, FullTextOf(connection), BodyBlocks(connection, node, query.DeadLetters));
        var sql = new StringBuilder("SELECT count(*) FROM ").Append(query.DeadLetters ? "dead_letters" : "events").Append(" WHERE ").Append(compiled.Where);
        var parameters = new List<KeyValuePair<string, object>>(compiled.Parameters);
        AppendTimeRange(sql, parameters, query, query.DeadLetters ? "time" : "ts");
        await using var cmd = Command(connection, sql.ToString(), parameters);
        return Convert.ToInt64(await cmd.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture);
    }

    public async Task<IReadOnlyList<HistogramBucket>> HistogramAsync(LogQuery query, TimeSpan width, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        using var searching = priority?.Enter() ?? default;
        if (width < TimeSpan.FromMilliseconds(1))
        {
            throw new ArgumentOutOfRangeException(nameof(width), width, "A histogram bucket must be at least 1 ms wide.");
        }

        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        var node = query.Parse();
        var compiled = QueryCompiler.Compile(node, dialect, query.DeadLetters, false, FullTextOf(connection), BodyBlocks(connection, node, query.DeadLetters));
        var time = query.DeadLetters ? "time" : "ts";
        var micros = width.Ticks / 10;

        // The bucket number (floor of microseconds since the epoch over the width) is computed alike on every store;
        // its start time is computed here.
        var bucket = dialect switch
        {
            SqlDialect.Sqlite => $"(({time} - ((({time} % {Prefix}w) + {Prefix}w) % {Prefix}w)) / {Prefix}w)",
            SqlDialect.Postgres => $"floor(extract(epoch from {time}) * 1000000 / {Prefix}w)::bigint",
            _ => $"CAST(floor(epoch_us({time}) / {Prefix}w) AS BIGINT)",
        };
        var sql = new StringBuilder("SELECT ").Append(bucket).Append(" AS bucket, count(*) FROM ")
            .Append(query.DeadLetters ? "dead_letters" : "events").Append(" WHERE ").Append(compiled.Where);
        var parameters = new List<KeyValuePair<string, object>>(compiled.Parameters) { new(Prefix + "w", micros) };
        AppendTimeRange(sql, parameters, query, time);
        sql.Append(" GROUP BY bucket ORDER BY bucket LIMIT ").Append(HistogramBucket.MaxBuckets + 1);
        await using var cmd = Command(connection, sql.ToString(), parameters);
        await using var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var buckets = new List<HistogramBucket>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            if (buckets.Count == HistogramBucket.MaxBuckets)
            {
                throw new ArgumentOutOfRangeException(nameof(width), width, $"More than {HistogramBucket.MaxBuckets} buckets of {width}: choose a wider bucket or a narrower time range.");
            }

            var n = Convert.ToInt64(reader.GetValue(0), System.Globalization.CultureInfo.InvariantCulture);
            buckets.Add(new HistogramBucket(StoredEvent.FromUnixMicros(n * micros, 0), Convert.ToInt64(reader.GetValue(1), System.Globalization.CultureInfo.InvariantCulture)));
        }

        return buckets;
    }

    public async IAsyncEnumerable<LogEvent> ReadEventsAsync(DateTimeOffset? since, DateTimeOffset? until, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var query = new LogQuery(null, since, until);
        var parameters = new List<KeyValuePair<string, object>>();
        var sql = new StringBuilder("SELECT ").Append(Columns).Append(" FROM events WHERE ").Append(dialect == SqlDialect.Sqlite ? "1" : "TRUE");
        AppendTimeRange(sql, parameters, query, "ts");
        sql.Append(dialect == SqlDialect.Postgres ? " ORDER BY ts, id" : " ORDER BY ts, rowid");
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var cmd = Command(connection, sql.ToString(), parameters);
        await using var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return ReadEvent(reader);
        }
    }

    public async IAsyncEnumerable<DeadLetter> ReadDeadLettersAsync(DateTimeOffset? since, DateTimeOffset? until, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var query = new LogQuery(null, since, until);
        var parameters = new List<KeyValuePair<string, object>>();
        var sql = new StringBuilder("SELECT ").Append(DeadLetterColumns).Append(" FROM dead_letters WHERE ").Append(dialect == SqlDialect.Sqlite ? "1" : "TRUE");
        AppendTimeRange(sql, parameters, query, "time");
        sql.Append(" ORDER BY time, id");
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var cmd = Command(connection, sql.ToString(), parameters);
        await using var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return ReadDeadLetter(reader);
        }
    }

    public ValueTask DisposeAsync() => owned?.DisposeAsync() ?? default;

    private async Task<DbConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = connect();
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            return connection;
        }
        catch (DuckDBException e) when (e.Message.Contains("lock", StringComparison.OrdinalIgnoreCase))
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw new LogStoreUnavailableException(
                $"The DuckDB store '{duckDbPath}' is held by another process and no running conveyor advertises it beside the file: "
                + "query that service with --server http://HOST:PORT, or stop the process that holds the file. (" + e.Message + ")", e);
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private string Prefix => dialect == SqlDialect.Postgres ? "@" : "$";

    private void AppendTimeRange(StringBuilder sql, List<KeyValuePair<string, object>> parameters, LogQuery query, string column)
    {
        if (query.Since is { } since)
        {
            sql.Append(" AND ").Append(column).Append(" >= ").Append(Prefix).Append("since");
            parameters.Add(new(Prefix + "since", TimeValue(since)));
        }

        if (query.Until is { } until)
        {
            sql.Append(" AND ").Append(column).Append(" < ").Append(Prefix).Append("until");
            parameters.Add(new(Prefix + "until", TimeValue(until)));
        }
    }

    private object TimeValue(DateTimeOffset t) => dialect == SqlDialect.Sqlite ? StoredEvent.ToUnixMicros(t) : t.UtcDateTime;

    private DbCommand Command(DbConnection connection, string sql, List<KeyValuePair<string, object>> parameters)
    {
        var cmd = connection.CreateCommand();
        cmd.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            var p = cmd.CreateParameter();

            // DuckDB.NET names a parameter without the '$' the SQL writes.
            p.ParameterName = dialect == SqlDialect.DuckDb ? name[1..] : name;
            p.Value = value;
            cmd.Parameters.Add(p);
        }

        return cmd;
    }

    private DateTimeOffset ReadTime(DbDataReader reader, int ordinal, int offsetMinutes) => dialect == SqlDialect.Sqlite
        ? StoredEvent.FromUnixMicros(reader.GetInt64(ordinal), offsetMinutes)
        : new DateTimeOffset(DateTime.SpecifyKind(reader.GetDateTime(ordinal), DateTimeKind.Utc)).ToOffset(TimeSpan.FromMinutes(offsetMinutes));

    private DeadLetter ReadDeadLetter(DbDataReader r) =>
        new(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4), ReadTime(r, 5, 0));

    private LogEvent ReadEvent(DbDataReader r)
    {
        var observed = ReadTime(r, 3, r.GetInt32(4));
        var e = new LogEvent(r.GetString(0), r.GetString(7), r.GetString(8), observed)
        {
            Timestamp = r.IsDBNull(2) ? null : ReadTime(r, 1, r.GetInt32(2)),
            SeverityNumber = r.GetInt32(5),
            SeverityText = r.IsDBNull(6) ? null : r.GetString(6),
            TraceId = r.IsDBNull(11) ? null : r.GetString(11),
            SpanId = r.IsDBNull(12) ? null : r.GetString(12),
            TraceFlags = r.IsDBNull(13) ? null : r.GetInt32(13),
            EventName = r.IsDBNull(14) ? null : r.GetString(14),
        };
        if (dialect != SqlDialect.Sqlite)
        {
            // The typed columns first, then the JSON: an attribute the JSON also holds keeps the JSON's (exact) value.
            SetIfPresent(e, r, 15, SemanticNames.ClientAddress);
            SetIfPresent(e, r, 16, SemanticNames.HttpRequestMethod);
            SetIfPresent(e, r, 17, SemanticNames.UrlOriginal);
            if (!r.IsDBNull(18))
            {
                e.Attributes.Set(SemanticNames.HttpResponseStatusCode, (long)r.GetInt32(18));
            }

            SetIfPresent(e, r, 19, SemanticNames.UserAgentOriginal);
        }

        StoredEvent.ReadAttributes(r.IsDBNull(9) ? null : r.GetString(9), e.Attributes);
        if (!r.IsDBNull(10))
        {
            StoredEvent.ReadAttributes(r.GetString(10), e.Resource);
        }

        return e;
    }

    private static void SetIfPresent(LogEvent e, DbDataReader r, int ordinal, string key)
    {
        if (!r.IsDBNull(ordinal))
        {
            e.Attributes.Set(key, r.GetString(ordinal));
        }
    }
}
