using System.Data.Common;
using System.Text;
using Conveyor.Logs.Model;
using Conveyor.Logs.Sinks;
using Conveyor.Logs.Sinks.Sqlite;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Conveyor.Logs.Query;

/// <summary>Opens the query side of a store by URI.</summary>
public static class LogStore
{
    /// <summary>The store <c>conveyor run</c> writes by default.</summary>
    public const string DefaultUri = "sqlite:" + SqliteSinkOptions.DefaultPath;

    /// <summary>
    /// Opens <c>sqlite:PATH</c> (the file must exist) or <c>postgres:CONNSTR</c> (an Npgsql connection string;
    /// <c>Search Path=SCHEMA</c> picks the schema the sink wrote to).
    /// </summary>
    /// <exception cref="ArgumentException">The URI has another scheme.</exception>
    /// <exception cref="LogStoreNotFoundException">The SQLite file does not exist.</exception>
    public static ILogStore Open(string uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
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

        throw new ArgumentException($"Unknown store '{uri}'; expected sqlite:PATH or postgres:CONNSTR.", nameof(uri));
    }
}

/// <summary>One implementation for both SQL stores: they share the column layout of <see cref="StoredEvent"/>.</summary>
internal sealed class SqlLogStore(SqlDialect dialect, Func<DbConnection> connect, IAsyncDisposable? owned) : ILogStore
{
    private const string EventColumns = "id, ts, ts_offset, observed_ts, observed_offset, severity_number, severity_text, source, body, attributes, resource, trace_id, span_id, trace_flags, event_name";
    private const string DeadLetterColumns = "id, source, parser, reason, raw_line, time";

    /// <summary>Newest rows scanned first when a SQLite query has full-text terms; see <see cref="SearchAsync"/>.</summary>
    internal const int NewestScanRows = 20_000;

    public async Task<LogQueryResult> SearchAsync(LogQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        var node = query.Parse();
        await using var connection = connect();
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        var fullText = FullTextOf(connection);
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

        return await ReadAsync(connection, query, QueryCompiler.Compile(node, dialect, query.DeadLetters, fullText: fullText), null, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>SQLite: the full-text index this database has (each store file says for itself); irrelevant elsewhere.</summary>
    private static SqliteFullText FullTextOf(DbConnection connection) =>
        connection is SqliteConnection sqlite ? SqliteSchema.ReadFullText(sqlite) : SqliteFullText.None;

    private async Task<LogQueryResult> ReadAsync(DbConnection connection, LogQuery query, CompiledQuery compiled, int? newestRows, CancellationToken cancellationToken)
    {
        var table = query.DeadLetters ? "dead_letters" : "events";
        var time = query.DeadLetters ? "time" : "ts";
        var tieBreak = dialect == SqlDialect.Sqlite ? "rowid" : "id";
        var parameters = new List<KeyValuePair<string, object>>(compiled.Parameters);
        var sql = new StringBuilder("SELECT ").Append(query.DeadLetters ? DeadLetterColumns : EventColumns).Append(" FROM ");
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
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            if (query.DeadLetters)
            {
                letters.Add(new DeadLetter(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4), ReadTime(reader, 5, 0)));
            }
            else
            {
                events.Add(ReadEvent(reader));
            }
        }

        return new LogQueryResult(events, letters);
    }

    public async Task<long> CountAsync(LogQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        await using var connection = connect();
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        var compiled = QueryCompiler.Compile(query.Parse(), dialect, query.DeadLetters, fullText: FullTextOf(connection));
        var sql = new StringBuilder("SELECT count(*) FROM ").Append(query.DeadLetters ? "dead_letters" : "events").Append(" WHERE ").Append(compiled.Where);
        var parameters = new List<KeyValuePair<string, object>>(compiled.Parameters);
        AppendTimeRange(sql, parameters, query, query.DeadLetters ? "time" : "ts");
        await using var cmd = Command(connection, sql.ToString(), parameters);
        return Convert.ToInt64(await cmd.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture);
    }

    public ValueTask DisposeAsync() => owned?.DisposeAsync() ?? default;

    private string Prefix => dialect == SqlDialect.Sqlite ? "$" : "@";

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

    private static DbCommand Command(DbConnection connection, string sql, List<KeyValuePair<string, object>> parameters)
    {
        var cmd = connection.CreateCommand();
        cmd.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            var p = cmd.CreateParameter();
            p.ParameterName = name;
            p.Value = value;
            cmd.Parameters.Add(p);
        }

        return cmd;
    }

    private DateTimeOffset ReadTime(DbDataReader reader, int ordinal, int offsetMinutes) => dialect == SqlDialect.Sqlite
        ? StoredEvent.FromUnixMicros(reader.GetInt64(ordinal), offsetMinutes)
        : new DateTimeOffset(DateTime.SpecifyKind(reader.GetDateTime(ordinal), DateTimeKind.Utc)).ToOffset(TimeSpan.FromMinutes(offsetMinutes));

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
        StoredEvent.ReadAttributes(r.IsDBNull(9) ? null : r.GetString(9), e.Attributes);
        if (!r.IsDBNull(10))
        {
            StoredEvent.ReadAttributes(r.GetString(10), e.Resource);
        }

        return e;
    }
}
