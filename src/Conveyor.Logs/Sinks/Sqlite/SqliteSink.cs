using System.Buffers;
using System.Globalization;
using System.Text;
using Conveyor.Logs.Model;
using Microsoft.Data.Sqlite;

namespace Conveyor.Logs.Sinks.Sqlite;

/// <summary>
/// The embedded store: one writer connection to a WAL database (synchronous=NORMAL), prepared multi-row
/// <c>INSERT OR IGNORE</c> statements in transactions sized by count and bytes, so a replayed batch stores nothing
/// twice (and, because ignored rows fire no trigger, adds no full-text rows either). The full-text index is the
/// one <see cref="SqliteSinkOptions.FullText"/> names.
/// </summary>
/// <remarks>
/// Calls are serialised by one gate: writes, dead letters, retention and disposal never overlap. Readers
/// (<see cref="Query.LogStore"/>) use their own connections; WAL lets them read while this writes.
/// </remarks>
public sealed class SqliteSink : ILogSink, ILogRetention, IStoreIntegrityCheck
{
    private const int Columns = 20;
    private const string InsertPrefix =
        "INSERT OR IGNORE INTO events (id, ts, ts_offset, observed_ts, observed_offset, severity_number, severity_text, "
        + "status, method, client, url, user_agent, source, body, attributes, resource, trace_id, span_id, trace_flags, event_name) VALUES ";

    private readonly SqliteSinkOptions _options;
    private readonly TimeProvider _time;
    private readonly SqliteConnection _connection;
    private readonly SinkGate _gate;
    private readonly ArrayBufferWriter<byte> _json = new(1024);
    private readonly SqliteCommand _multiInsert;
    private readonly SqliteCommand _singleInsert;

    private SqliteSink(SqliteSinkOptions options, TimeProvider time, SqliteConnection connection, SqliteFullText fullText)
    {
        _options = options;
        _time = time;
        _connection = connection;
        FullText = fullText;
        _multiInsert = CreateInsert(options.RowsPerStatement);
        _singleInsert = CreateInsert(1);
        _gate = new SinkGate(this, static e => e is SqliteException s ? Classify(s) : null);
    }

    /// <inheritdoc />
    public string Name => "sqlite";

    /// <summary>The database file.</summary>
    public string Path => _options.Path;

    /// <summary>The full-text index the database keeps.</summary>
    public SqliteFullText FullText { get; }

    /// <summary>Opens (creating when missing) and migrates the database, and builds the full-text index the options name.</summary>
    /// <param name="options">Validated here.</param>
    /// <param name="timeProvider">The clock retention measures age with; <see cref="TimeProvider.System"/> when null.</param>
    /// <param name="cancellationToken">Cancels opening.</param>
    /// <exception cref="ArgumentException">An option is invalid (the message names it).</exception>
    /// <exception cref="SinkException">The database cannot be opened or migrated.</exception>
    public static Task<SqliteSink> OpenAsync(SqliteSinkOptions options, TimeProvider? timeProvider = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        cancellationToken.ThrowIfCancellationRequested();
        SqliteConnection? connection = null;
        try
        {
            var folder = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(options.Path));
            if (!string.IsNullOrEmpty(folder))
            {
                Directory.CreateDirectory(folder);
            }

            connection = new SqliteConnection(ConnectionString(options.Path, SqliteOpenMode.ReadWriteCreate));
            connection.Open();
            var isNew = SqliteSchema.PrepareNewDatabase(connection);
            SqliteSchema.Execute(connection, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 10000");
            SqliteSchema.Migrate(connection);
            var fullText = options.FullText ?? (isNew ? SqliteFullText.Words : SqliteSchema.ReadFullText(connection));
            SqliteSchema.EnsureFullText(connection, fullText);
            return Task.FromResult(new SqliteSink(options, timeProvider ?? TimeProvider.System, connection, fullText));
        }
        catch (Exception e) when (e is SqliteException or IOException or UnauthorizedAccessException)
        {
            connection?.Dispose();
            throw new SinkException($"Cannot open SQLite database '{options.Path}': {e.Message}", isTransient: false, e);
        }
    }

    /// <summary>
    /// <c>PRAGMA quick_check</c> when <see cref="SqliteSinkOptions.IntegrityCheck"/> is on: a damaged file (random
    /// bytes over its pages, a truncated copy) is refused at start-up instead of accepting lines no query could read.
    /// </summary>
    public ValueTask<string?> CheckIntegrityAsync(CancellationToken cancellationToken)
    {
        if (!_options.IntegrityCheck)
        {
            return ValueTask.FromResult<string?>(null);
        }

        return _gate.RunAsync(
            () =>
            {
                try
                {
                    return SqliteSchema.QuickCheck(_connection) is { } problem
                        ? $"SQLite database '{_options.Path}' is damaged (PRAGMA quick_check: {problem}); move it aside or restore a backup"
                        : null;
                }
                catch (SqliteException e)
                {
                    // An unreadable file is the answer to this check, not a write failure to classify.
                    return $"SQLite database '{_options.Path}' cannot be read: {e.Message}; move it aside or restore a backup";
                }
            },
            cancellationToken);
    }

    /// <summary>A connection string for <paramref name="path"/>; pooling is off so closing really releases the file.</summary>
    internal static string ConnectionString(string path, SqliteOpenMode mode) => new SqliteConnectionStringBuilder
    {
        DataSource = path,
        Mode = mode,
        Pooling = false,
        DefaultTimeout = 30,
    }.ToString();

    /// <inheritdoc />
    public ValueTask WriteBatchAsync(IReadOnlyList<LogEvent> batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        return _gate.RunAsync(
            () =>
            {
                var start = 0;
                while (start < batch.Count)
                {
                    start = WriteTransaction(batch, start, cancellationToken);
                }
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask WriteDeadLettersAsync(IReadOnlyList<DeadLetter> batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        return _gate.RunAsync(
            () =>
            {
                using var tx = _connection.BeginTransaction();
                using var cmd = _connection.CreateCommand();
                cmd.Transaction = tx;
                cmd.CommandText = "INSERT OR IGNORE INTO dead_letters (id, time, source, parser, reason, raw_line) VALUES ($id, $time, $source, $parser, $reason, $raw)";
                var id = cmd.Parameters.Add("$id", SqliteType.Text);
                var time = cmd.Parameters.Add("$time", SqliteType.Integer);
                var source = cmd.Parameters.Add("$source", SqliteType.Text);
                var parser = cmd.Parameters.Add("$parser", SqliteType.Text);
                var reason = cmd.Parameters.Add("$reason", SqliteType.Text);
                var raw = cmd.Parameters.Add("$raw", SqliteType.Text);
                cmd.Prepare();
                foreach (var d in batch)
                {
                    id.Value = d.Id;
                    time.Value = StoredEvent.ToUnixMicros(d.Time);
                    source.Value = d.Source;
                    parser.Value = d.Parser;
                    reason.Value = d.Reason;
                    raw.Value = d.RawLine;
                    cmd.ExecuteNonQuery();
                }

                tx.Commit();
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask<SinkHealth> CheckHealthAsync(CancellationToken cancellationToken) =>
        _gate.ProbeAsync(() => SqliteSchema.Execute(_connection, "SELECT 1"), cancellationToken);

    /// <summary>
    /// Deletes events and dead letters older than <see cref="SqliteSinkOptions.RetentionMaxAge"/>, then the oldest
    /// events while the database is over <see cref="SqliteSinkOptions.RetentionMaxBytes"/>, in chunks of
    /// <see cref="SqliteSinkOptions.RetentionChunk"/>; then returns freed pages to the file system. Run it periodically.
    /// </summary>
    /// <returns>The number of events and dead letters deleted.</returns>
    public Task<RetentionResult> ApplyRetentionAsync(CancellationToken cancellationToken = default) =>
        _gate.RunAsync(
            () =>
            {
                long events = 0, letters = 0;
                if (_options.RetentionMaxAge is { } age)
                {
                    var cutoff = StoredEvent.ToUnixMicros(_time.GetUtcNow() - age);
                    events += DeleteInChunks("DELETE FROM events WHERE rowid IN (SELECT rowid FROM events WHERE ts < $cutoff LIMIT $n)", cutoff, cancellationToken);
                    letters += DeleteInChunks("DELETE FROM dead_letters WHERE rowid IN (SELECT rowid FROM dead_letters WHERE time < $cutoff LIMIT $n)", cutoff, cancellationToken);
                }

                if (_options.RetentionMaxBytes is { } maxBytes)
                {
                    // Deleted rows leave full-text tombstones until the index is merged, so the size only drops after
                    // an optimise: estimate the rows to delete from the average row size (aiming 10 % under the limit
                    // so the next run is not immediate), delete, compact, measure again.
                    for (var round = 0; round < 5; round++)
                    {
                        var used = UsedBytes();
                        var rows = ScalarInt64("SELECT count(*) FROM events");
                        if (used <= maxBytes || rows == 0)
                        {
                            break;
                        }

                        var excess = used - (maxBytes * 9 / 10);
                        var target = Math.Max(1, (long)Math.Ceiling(rows * (double)excess / used));
                        long deleted = 0;
                        while (deleted < target)
                        {
                            cancellationToken.ThrowIfCancellationRequested();
                            var chunk = (int)Math.Min(_options.RetentionChunk, target - deleted);
                            var n = Execute("DELETE FROM events WHERE rowid IN (SELECT rowid FROM events ORDER BY ts LIMIT $n)", 0, chunk);
                            if (n == 0)
                            {
                                break;
                            }

                            deleted += n;
                        }

                        events += deleted;
                        Compact();
                    }
                }

                if (events + letters > 0)
                {
                    Compact();
                }

                return new RetentionResult(events, letters);
            },
            cancellationToken).AsTask();

    private void Compact()
    {
        if (FullText != SqliteFullText.None)
        {
            SqliteSchema.Execute(_connection, "INSERT INTO events_fts (events_fts) VALUES ('optimize')");
        }

        SqliteSchema.Execute(_connection, "PRAGMA incremental_vacuum; PRAGMA optimize; PRAGMA wal_checkpoint(TRUNCATE)");
    }

    private long ScalarInt64(string sql)
    {
        using var cmd = _connection.CreateCommand();
        cmd.CommandText = sql;
        return Convert.ToInt64(cmd.ExecuteScalar(), CultureInfo.InvariantCulture);
    }

    /// <summary>Bytes the database's live pages take (page count minus free pages, times page size).</summary>
    internal long UsedBytes()
    {
        using var cmd = _connection.CreateCommand();
        cmd.CommandText = "SELECT (SELECT page_count FROM pragma_page_count()) - (SELECT freelist_count FROM pragma_freelist_count()), (SELECT page_size FROM pragma_page_size())";
        using var r = cmd.ExecuteReader();
        r.Read();
        return r.GetInt64(0) * r.GetInt64(1);
    }

    /// <summary>Checkpoints the WAL into the database and closes it.</summary>
    public ValueTask DisposeAsync() =>
        _gate.DisposeAsync(
            async () =>
            {
                try
                {
                    // optimize refreshes the planner's statistics (SQLite's advice: run it before closing), so it
                    // knows status has few values and a time range is the selective part.
                    SqliteSchema.Execute(_connection, "PRAGMA optimize; PRAGMA wal_checkpoint(TRUNCATE)");
                }
                catch (SqliteException)
                {
                    // A reader holding the WAL only delays the checkpoint; the next open completes it.
                }

                _multiInsert.Dispose();
                _singleInsert.Dispose();
                await _connection.DisposeAsync().ConfigureAwait(false);
            });

    /// <summary>Writes events from <paramref name="start"/> in one transaction; returns where the next one starts.</summary>
    private int WriteTransaction(IReadOnlyList<LogEvent> batch, int start, CancellationToken cancellationToken)
    {
        using var tx = _connection.BeginTransaction();
        _multiInsert.Transaction = tx;
        _singleInsert.Transaction = tx;
        var perStatement = _options.RowsPerStatement;
        long bytes = 0;
        var i = start;
        var rowsInTx = 0;
        while (i < batch.Count && rowsInTx < _options.MaxTransactionEvents && bytes < _options.MaxTransactionBytes)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var rows = Math.Min(perStatement, batch.Count - i);
            var cmd = rows == perStatement ? _multiInsert : _singleInsert;
            rows = cmd == _multiInsert ? perStatement : 1;
            for (var r = 0; r < rows; r++)
            {
                bytes += Bind(cmd, r, batch[i + r]);
            }

            cmd.ExecuteNonQuery();
            i += rows;
            rowsInTx += rows;
        }

        tx.Commit();
        return i;
    }

    /// <summary>Sets row <paramref name="row"/>'s parameters of <paramref name="cmd"/> from <paramref name="e"/>.</summary>
    private long Bind(SqliteCommand cmd, int row, LogEvent e)
    {
        var attributes = StoredEvent.AttributesJson(e.Attributes, _json);
        var size = StoredEvent.ApproximateBytes(e, attributes);
        if (size > _options.MaxEventBytes)
        {
            throw new SinkException($"event {e.Id} is {size} characters, over the limit of {_options.MaxEventBytes} (MaxEventBytes)", isTransient: false);
        }

        var p = cmd.Parameters;
        var b = row * Columns;
        var ts = e.EffectiveTimestamp;
        p[b].Value = e.Id;
        p[b + 1].Value = StoredEvent.ToUnixMicros(ts);
        p[b + 2].Value = e.Timestamp is { } t ? StoredEvent.OffsetMinutes(t) : DBNull.Value;
        p[b + 3].Value = StoredEvent.ToUnixMicros(e.ObservedTimestamp);
        p[b + 4].Value = StoredEvent.OffsetMinutes(e.ObservedTimestamp);
        p[b + 5].Value = e.SeverityNumber;
        p[b + 6].Value = (object?)e.SeverityText ?? DBNull.Value;
        p[b + 7].Value = (object?)StoredEvent.GetInt(e, SemanticNames.HttpResponseStatusCode) ?? DBNull.Value;
        p[b + 8].Value = (object?)StoredEvent.GetString(e, SemanticNames.HttpRequestMethod) ?? DBNull.Value;
        p[b + 9].Value = (object?)StoredEvent.GetString(e, SemanticNames.ClientAddress) ?? DBNull.Value;
        p[b + 10].Value = (object?)StoredEvent.GetString(e, SemanticNames.UrlOriginal) ?? DBNull.Value;
        p[b + 11].Value = (object?)StoredEvent.GetString(e, SemanticNames.UserAgentOriginal) ?? DBNull.Value;
        p[b + 12].Value = e.Source;
        p[b + 13].Value = e.Body;
        p[b + 14].Value = attributes;
        p[b + 15].Value = e.HasResource ? StoredEvent.AttributesJson(e.Resource, _json) : DBNull.Value;
        p[b + 16].Value = (object?)e.TraceId ?? DBNull.Value;
        p[b + 17].Value = (object?)e.SpanId ?? DBNull.Value;
        p[b + 18].Value = (object?)e.TraceFlags ?? DBNull.Value;
        p[b + 19].Value = (object?)e.EventName ?? DBNull.Value;
        return size;
    }

    private SqliteCommand CreateInsert(int rows)
    {
        var sql = new StringBuilder(InsertPrefix);
        var cmd = _connection.CreateCommand();
        for (var r = 0; r < rows; r++)
        {
            sql.Append(r == 0 ? "(" : ", (");
            for (var c = 0; c < Columns; c++)
            {
                var name = string.Create(CultureInfo.InvariantCulture, $"$p{(r * Columns) + c}");
                sql.Append(c == 0 ? string.Empty : ", ").Append(name);
                cmd.Parameters.Add(new SqliteParameter(name, DBNull.Value));
            }

            sql.Append(')');
        }

        cmd.CommandText = sql.ToString();
        return cmd;
    }

    private long DeleteInChunks(string sql, long cutoff, CancellationToken cancellationToken)
    {
        long total = 0;
        int n;
        do
        {
            cancellationToken.ThrowIfCancellationRequested();
            n = Execute(sql, cutoff, _options.RetentionChunk);
            total += n;
        }
        while (n > 0);
        return total;
    }

    private int Execute(string sql, long cutoff, int chunk)
    {
        using var cmd = _connection.CreateCommand();
        cmd.CommandText = sql;
        cmd.Parameters.AddWithValue("$cutoff", cutoff);
        cmd.Parameters.AddWithValue("$n", chunk);
        return cmd.ExecuteNonQuery();
    }

    /// <summary>Refusals of the data itself are permanent; anything else (busy, locked, I/O, full disk) may pass.</summary>
    private static SinkException Classify(SqliteException e) => e.SqliteErrorCode switch
    {
        18 or 19 or 20 or 25 => new SinkException($"SQLite refused the data: {e.Message}", isTransient: false, e),
        _ => new SinkException($"SQLite write failed: {e.Message}", isTransient: true, e),
    };
}
