using System.Buffers;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using Conveyor.Logs.Model;
using Conveyor.Logs.Query;
using DuckDB.NET.Data;

namespace Conveyor.Logs.Sinks.DuckDb;

/// <summary>
/// The embedded default store (<c>duckdb:PATH</c>): one DuckDB database, one writer connection appending each batch
/// through DuckDB's Appender in one transaction, rows in arrival order, no index.
/// </summary>
/// <remarks>
/// <para><b>Columns.</b> Time, observed time, severity, status, method, client, url, user agent, source, id, body and the
/// trace fields are typed columns; the other attributes are one JSON object. An attribute moves into its column only when
/// the column holds it exactly (a string, or an integer status), so every event reads back as it was written.</para>
/// <para><b>Idempotence without a unique index.</b> A DuckDB unique index lives in memory and slows appends about four
/// times. Instead the sink keeps, per stream, the runs of positions it stored (<see cref="StoredPositions"/>: an id
/// <c>STREAM:N</c> is position N of STREAM), appends the runs each batch adds to <c>stored_ranges</c> in the same
/// transaction as its rows, and skips every event whose position is already inside a run. Runs join only where they
/// touch, because batches of one stream arrive out of order (parallel parse workers, retries, replays). A batch written
/// twice, in order or not, before or after a restart, therefore stores each event once. <c>stored_ranges</c> is an
/// append log, compacted (pruned of idle streams, runs joined) at start-up, every ten minutes and on close.</para>
/// <para><b>Readers.</b> DuckDB admits one process per database file. <see cref="OpenStore"/> searches through this
/// sink's own database instance (MVCC: readers see committed batches and never block the appender); other processes
/// reach it through the service's <c>/api/search</c>, or open the file read-only when no service holds it.</para>
/// <para><b>Body filters.</b> With each batch of events the sink writes, in the same transaction, one row of
/// <c>body_filters</c>: the batch's time range and a Bloom filter of its lowercased bodies' trigrams
/// (<see cref="BodyFilter"/>, about 0.6 bytes per access-log line). A bare word asks that table which blocks may hold
/// it and tests the bodies only inside their time ranges, so a rare word reads a few row groups instead of every body;
/// the substring test still decides each row, so the answer is exact. Retention deletes a block's row once every
/// event it covered is gone.</para>
/// <para>Calls are serialised by one gate: writes, dead letters, retention and disposal never overlap.</para>
/// </remarks>
public sealed class DuckDbSink : ILogSink, ILogRetention
{
    private const string EventKind = "e";
    private const string DeadLetterKind = "d";
    private static readonly TimeSpan CompactEvery = TimeSpan.FromMinutes(10);

    private readonly DuckDbSinkOptions _options;
    private readonly TimeProvider _time;
    private readonly string _connectionString;
    private readonly DuckDBConnection _connection;
    private readonly SinkGate _gate;
    private readonly ArrayBufferWriter<byte> _json = new(1024);
    private readonly Utf8JsonWriter _jsonWriter;
    private readonly StoredPositions _events;
    private readonly StoredPositions _deadLetters;
    private readonly HashSet<(string Stream, long Position)> _batchSeen = [];
    private readonly BodyFilter _bodyFilter = new();
    private long _rangeRowsSinceCompaction;
    private DateTimeOffset _lastCompaction;

    private DuckDbSink(DuckDbSinkOptions options, TimeProvider time, string connectionString, DuckDBConnection connection)
    {
        _options = options;
        _time = time;
        _connectionString = connectionString;
        _connection = connection;
        _events = new StoredPositions(options.MaxRangesPerStream);
        _deadLetters = new StoredPositions(options.MaxRangesPerStream);
        _gate = new SinkGate(this, static e => e is DuckDBException d ? Classify(d) : null);
        _jsonWriter = new Utf8JsonWriter(_json, LogEventJson.WriterOptions);
    }

    /// <inheritdoc />
    public string Name => "duckdb";

    /// <summary>The database file, as a full path.</summary>
    public string Path { get; private init; } = string.Empty;

    /// <summary>Runs of stored positions remembered for idempotence (events and dead letters), for tests and diagnostics.</summary>
    internal int RememberedRanges => _events.RangeCount + _deadLetters.RangeCount;

    /// <summary>Opens (creating when missing) and migrates the database.</summary>
    /// <param name="options">Validated here.</param>
    /// <param name="timeProvider">The clock for retention and the idempotence window; <see cref="TimeProvider.System"/> when null.</param>
    /// <param name="cancellationToken">Cancels opening.</param>
    /// <exception cref="ArgumentException">An option is invalid (the message names it).</exception>
    /// <exception cref="SinkException">The database cannot be opened (not a DuckDB file, a newer format, no permission, held by another process).</exception>
    public static Task<DuckDbSink> OpenAsync(DuckDbSinkOptions options, TimeProvider? timeProvider = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        cancellationToken.ThrowIfCancellationRequested();
        var path = System.IO.Path.GetFullPath(options.Path);
        DuckDBConnection? connection = null;
        try
        {
            var folder = System.IO.Path.GetDirectoryName(path);
            if (!string.IsNullOrEmpty(folder))
            {
                Directory.CreateDirectory(folder);
            }

            var connectionString = ConnectionString(path, options.MemoryLimit, options.Threads, readOnly: false, options.CheckpointThreshold);
            connection = new DuckDBConnection(connectionString);
            connection.Open();
            using (var cmd = connection.CreateCommand())
            {
                // In one process DuckDB.NET shares a database instance per path, so a reader that opened it first
                // would hand this writer a read-only instance.
                cmd.CommandText = "SELECT current_setting('access_mode')";
                if (string.Equals(cmd.ExecuteScalar() as string, "read_only", StringComparison.OrdinalIgnoreCase))
                {
                    throw new InvalidOperationException("the database is open read-only in this process");
                }
            }

            DuckDbSchema.Migrate(connection);
            var time = timeProvider ?? TimeProvider.System;
            var sink = new DuckDbSink(options, time, connectionString, connection) { Path = path };
            sink.LoadRanges();
            sink.CompactRanges();
            return Task.FromResult(sink);
        }
        catch (Exception e) when (e is DuckDBException or IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            connection?.Dispose();
            throw new SinkException($"Cannot open DuckDB database '{path}': {Reason(e)}", isTransient: false, e);
        }
    }

    /// <summary>A connection string for <paramref name="path"/> (a full path: DuckDB.NET shares one instance per path string).</summary>
    internal static string ConnectionString(string path, long memoryLimit, int threads, bool readOnly, long? checkpointThreshold = null)
    {
        var b = new DuckDBConnectionStringBuilder { DataSource = path };
        b["memory_limit"] = (memoryLimit >> 20).ToString(CultureInfo.InvariantCulture) + "MiB";
        b["threads"] = threads.ToString(CultureInfo.InvariantCulture);
        if (checkpointThreshold is { } wal)
        {
            b["checkpoint_threshold"] = (wal >> 20).ToString(CultureInfo.InvariantCulture) + "MiB";
        }

        if (readOnly)
        {
            b["access_mode"] = "READ_ONLY";
        }
        else
        {
            // Applies only to a file this open creates (see DuckDbSchema.StorageVersion).
            b["storage_compatibility_version"] = DuckDbSchema.StorageVersion;
        }

        return b.ToString();
    }

    /// <summary>
    /// A search over this sink's database through its own instance (no second open of the file, which DuckDB would
    /// refuse): what <c>/api/search</c> and the dashboard use while the service writes. Disposing it leaves the sink open.
    /// </summary>
    public ILogStore OpenStore() => new SqlLogStore(SqlDialect.DuckDb, () => new DuckDBConnection(_connectionString), null);

    /// <inheritdoc />
    public ValueTask WriteBatchAsync(IReadOnlyList<LogEvent> batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        return _gate.RunAsync(
            () =>
            {
                _bodyFilter.Clear();
                MaybeCompact(AppendNew(batch, "events", EventKind, _events, static e => e.Id, Append, cancellationToken));
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
                AppendNew(batch, "dead_letters", DeadLetterKind, _deadLetters, static d => d.Id, AppendDeadLetter, cancellationToken);
            },
            cancellationToken);
    }

    /// <summary>
    /// Under the gate: appends to <paramref name="table"/>, in one transaction with the runs of positions they add to
    /// <c>stored_ranges</c>, the items of <paramref name="batch"/> whose position <paramref name="stored"/> does not
    /// hold yet, each once (a batch may repeat an id). Returns the time the runs were stamped with.
    /// </summary>
    private DateTimeOffset AppendNew<T>(
        IReadOnlyList<T> batch, string table, string kind, StoredPositions stored, Func<T, string> idOf, Action<DuckDBAppender, T> append, CancellationToken cancellationToken)
    {
        var positions = new List<(string Stream, long Position)>(batch.Count);
        _batchSeen.Clear();
        var now = _time.GetUtcNow();
        using (var tx = _connection.BeginTransaction())
        {
            using (var appender = _connection.CreateAppender(table))
            {
                string? lastStream = null;

                // While the items appended so far are one stream in rising positions (what a source sends), the next
                // item of that stream at a higher position cannot repeat one of them, so no set is needed; the first
                // item out of that order fills the set with the positions so far, and the set decides from then on.
                var rising = true;
                foreach (var item in batch)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    var (streamMemory, position) = StoredPositions.Split(idOf(item));
                    var stream = streamMemory.Span;
                    if (stored.Contains(stream, position))
                    {
                        continue;
                    }

                    // Consecutive items of one stream share one string: a batch is mostly one stream.
                    lastStream = lastStream is not null && stream.SequenceEqual(lastStream) ? lastStream : stream.ToString();
                    if (rising && (positions.Count == 0
                        || (string.Equals(positions[^1].Stream, lastStream, StringComparison.Ordinal) && position > positions[^1].Position)))
                    {
                        // New in this batch (see above).
                    }
                    else
                    {
                        if (rising)
                        {
                            rising = false;
                            _batchSeen.UnionWith(positions);
                        }

                        if (!_batchSeen.Add((lastStream, position)))
                        {
                            continue;
                        }
                    }

                    append(appender, item);
                    positions.Add((lastStream, position));
                }
            }

            if (kind == EventKind)
            {
                AppendBodyFilter();
            }

            var runs = StoredPositions.Coalesce(positions);
            AppendRanges(kind, runs, now);
            tx.Commit();

            // Now true: the rows and their runs are committed together, so remembering the runs cannot skip a lost row.
            stored.Add(runs, now);
        }

        return now;
    }

    /// <inheritdoc />
    public ValueTask<SinkHealth> CheckHealthAsync(CancellationToken cancellationToken) =>
        _gate.ProbeAsync(() => DuckDbSchema.Scalar(_connection, "SELECT 1"), cancellationToken);

    /// <summary>
    /// Deletes events and dead letters older than <see cref="DuckDbSinkOptions.RetentionMaxAge"/>, then the oldest events
    /// while the file is over <see cref="DuckDbSinkOptions.RetentionMaxBytes"/> (estimated from the bytes per row), then
    /// checkpoints so DuckDB reuses the freed blocks. Run it periodically.
    /// </summary>
    /// <returns>The number of events and dead letters deleted.</returns>
    public Task<RetentionResult> ApplyRetentionAsync(CancellationToken cancellationToken = default) =>
        _gate.RunAsync(
            () =>
            {
                long events = 0, letters = 0;
                if (_options.RetentionMaxAge is { } age)
                {
                    var cutoff = (_time.GetUtcNow() - age).UtcDateTime;
                    events += Delete("DELETE FROM events WHERE ts < $cutoff", cutoff);
                    letters += Delete("DELETE FROM dead_letters WHERE time < $cutoff", cutoff);
                }

                if (_options.RetentionMaxBytes is { } maxBytes)
                {
                    var used = new FileInfo(Path).Length;
                    var rows = DuckDbSchema.Scalar(_connection, "SELECT count(*) FROM events");
                    if (used > maxBytes && rows > 0)
                    {
                        // Aim 10 % under the limit so the next run is not due at once; the oldest rows go first.
                        var excess = used - (maxBytes * 9 / 10);
                        var target = Math.Clamp((long)Math.Ceiling(rows * (double)excess / used), 1, rows);
                        using var cmd = _connection.CreateCommand();
                        cmd.CommandText = "DELETE FROM events WHERE ts <= (SELECT ts FROM events ORDER BY ts LIMIT 1 OFFSET $n)";
                        cmd.Parameters.Add(new DuckDBParameter("n", target - 1));
                        events += cmd.ExecuteNonQuery();
                    }
                }

                if (events > 0)
                {
                    // A filter whose whole range is older than every remaining event covers no row any more.
                    DuckDbSchema.Execute(_connection, "DELETE FROM body_filters WHERE ts_hi < (SELECT min(ts) FROM events) OR NOT EXISTS (SELECT 1 FROM events)");
                }

                if (events + letters > 0)
                {
                    DuckDbSchema.Execute(_connection, "CHECKPOINT");
                }

                return new RetentionResult(events, letters);
            },
            cancellationToken).AsTask();

    /// <summary>Compacts the idempotence log, checkpoints the WAL into the database and closes it.</summary>
    public ValueTask DisposeAsync() =>
        _gate.DisposeAsync(
            async () =>
            {
                try
                {
                    CompactRanges();
                    DuckDbSchema.Execute(_connection, "CHECKPOINT");
                }
                catch (DuckDBException)
                {
                    // The WAL holds every committed batch; the next open replays it.
                }

                await _connection.DisposeAsync().ConfigureAwait(false);
                await _jsonWriter.DisposeAsync().ConfigureAwait(false);
            });

    /// <remarks>
    /// The writer's per-row work, on the one thread every row passes: one pass over the attributes fills the hot
    /// columns and writes the others as JSON, in UTF-8, into a reused buffer that the appender copies as bytes (no
    /// iterator, no JSON writer and no string per row, and no UTF-16 round trip of the JSON text).
    /// </remarks>
    private void Append(DuckDBAppender appender, LogEvent e)
    {
        long? status = null;
        string? method = null, client = null, url = null, userAgent = null;
        _json.ResetWrittenCount();
        _jsonWriter.Reset(_json);
        _jsonWriter.WriteStartObject();
        foreach (var a in e.Attributes)
        {
            switch (a.Key)
            {
                case SemanticNames.HttpResponseStatusCode: status = StoredEvent.AsInt(a.Value); break;
                case SemanticNames.HttpRequestMethod: method = StoredEvent.AsText(a.Value); break;
                case SemanticNames.ClientAddress: client = StoredEvent.AsText(a.Value); break;
                case SemanticNames.UrlOriginal: url = StoredEvent.AsText(a.Value); break;
                case SemanticNames.UserAgentOriginal: userAgent = StoredEvent.AsText(a.Value); break;
            }

            if (!IsHot(a))
            {
                _jsonWriter.WritePropertyName(a.Key);
                LogEventJson.WriteValue(_jsonWriter, a.Value);
            }
        }

        _jsonWriter.WriteEndObject();
        _jsonWriter.Flush();
        var size = StoredEvent.ApproximateBytes(e, _json.WrittenCount);
        if (size > _options.MaxEventBytes)
        {
            throw new SinkException($"event {e.Id} is {size} characters, over the limit of {_options.MaxEventBytes} (MaxEventBytes)", isTransient: false);
        }

        var ts = e.EffectiveTimestamp.UtcDateTime;
        _bodyFilter.Add(e.Body, ts);

        // The appender copies the attributes' bytes before the resource (rare) reuses the buffer.
        var attributes = MemoryMarshal.AsMemory(_json.WrittenMemory).Span;
        appender.CreateRow()
            .AppendValue(ts)
            .AppendValue(e.Timestamp is { } t ? StoredEvent.OffsetMinutes(t) : (int?)null)
            .AppendValue(e.ObservedTimestamp.UtcDateTime)
            .AppendValue((int?)StoredEvent.OffsetMinutes(e.ObservedTimestamp))
            .AppendValue((int?)e.SeverityNumber)
            .AppendValue(e.SeverityText)
            .AppendValue(status is >= int.MinValue and <= int.MaxValue ? (int?)status : null)
            .AppendValue(method)
            .AppendValue(client)
            .AppendValue(url)
            .AppendValue(userAgent)
            .AppendValue(e.Source)
            .AppendValue(e.Id)
            .AppendValue(e.Body)
            .AppendValue(e.TraceId)
            .AppendValue(e.SpanId)
            .AppendValue(e.TraceFlags)
            .AppendValue(e.EventName)
            .AppendValue(attributes)
            .AppendValue(e.HasResource ? StoredEvent.AttributesJson(e.Resource, _json) : null)
            .EndRow();
    }

    private static void AppendDeadLetter(DuckDBAppender appender, DeadLetter d) =>
        appender.CreateRow()
            .AppendValue(d.Time.UtcDateTime)
            .AppendValue(d.Id)
            .AppendValue(d.Source)
            .AppendValue(d.Parser)
            .AppendValue(d.Reason)
            .AppendValue(d.RawLine)
            .EndRow();

    /// <summary>True when a typed column reads back exactly this attribute (key, value and type).</summary>
    internal static bool IsHot(KeyValuePair<string, object?> a) => a.Key switch
    {
        SemanticNames.HttpResponseStatusCode => a.Value is long l && l is >= int.MinValue and <= int.MaxValue,
        SemanticNames.HttpRequestMethod or SemanticNames.ClientAddress or SemanticNames.UrlOriginal or SemanticNames.UserAgentOriginal => a.Value is string,
        _ => false,
    };

    /// <summary>
    /// In the batch's transaction: the <see cref="BodyFilter"/> of the rows <see cref="Append"/> added, one row of
    /// <c>body_filters</c> (nothing for a batch that added none).
    /// </summary>
    private void AppendBodyFilter()
    {
        if (_bodyFilter.Rows == 0)
        {
            return;
        }

        using var appender = _connection.CreateAppender("body_filters");
        appender.CreateRow().AppendValue(_bodyFilter.Lo).AppendValue(_bodyFilter.Hi).AppendValue(_bodyFilter.Rows).AppendValue(_bodyFilter.Build()).EndRow();
    }

    private void AppendRanges(string kind, List<StreamRange> runs, DateTimeOffset now)
    {
        if (runs.Count == 0)
        {
            return;
        }

        using var appender = _connection.CreateAppender("stored_ranges");
        foreach (var r in runs)
        {
            appender.CreateRow().AppendValue(kind).AppendValue(r.Stream).AppendValue(r.Lo).AppendValue(r.Hi).AppendValue(now.UtcDateTime).EndRow();
        }

        _rangeRowsSinceCompaction += runs.Count;
    }

    private void LoadRanges()
    {
        using var cmd = _connection.CreateCommand();
        cmd.CommandText = "SELECT kind, stream, lo, hi, written FROM stored_ranges ORDER BY written";
        using var r = cmd.ExecuteReader();
        while (r.Read())
        {
            var target = r.GetString(0) == DeadLetterKind ? _deadLetters : _events;
            var written = new DateTimeOffset(DateTime.SpecifyKind(r.GetDateTime(4), DateTimeKind.Utc));
            target.Add([new StreamRange(r.GetString(1), r.GetInt64(2), r.GetInt64(3))], written);
        }
    }

    private void MaybeCompact(DateTimeOffset now)
    {
        if (_rangeRowsSinceCompaction > Math.Max(50_000, 4L * RememberedRanges) || now - _lastCompaction > CompactEvery)
        {
            CompactRanges();
        }
    }

    /// <summary>Rewrites <c>stored_ranges</c> as the joined runs of the streams still inside the idempotence window.</summary>
    private void CompactRanges()
    {
        var now = _time.GetUtcNow();
        var cutoff = now - _options.IdempotenceWindow;
        _events.Prune(cutoff);
        _deadLetters.Prune(cutoff);
        using (var tx = _connection.BeginTransaction())
        {
            DuckDbSchema.Execute(_connection, "DELETE FROM stored_ranges");
            using (var appender = _connection.CreateAppender("stored_ranges"))
            {
                foreach (var (kind, set) in new[] { (EventKind, _events), (DeadLetterKind, _deadLetters) })
                {
                    foreach (var (r, written) in set.Snapshot())
                    {
                        appender.CreateRow().AppendValue(kind).AppendValue(r.Stream).AppendValue(r.Lo).AppendValue(r.Hi).AppendValue(written.UtcDateTime).EndRow();
                    }
                }
            }

            tx.Commit();
        }

        _rangeRowsSinceCompaction = 0;
        _lastCompaction = now;
    }

    private long Delete(string sql, DateTime cutoff)
    {
        using var cmd = _connection.CreateCommand();
        cmd.CommandText = sql;
        cmd.Parameters.Add(new DuckDBParameter("cutoff", cutoff));
        return cmd.ExecuteNonQuery();
    }

    private static string Reason(Exception e)
    {
        var message = e.Message;
        const string Prefix = "DuckDBOpen failed: ";
        return message.StartsWith(Prefix, StringComparison.Ordinal) ? message[Prefix.Length..] : message;
    }

    /// <summary>A conversion or constraint error refuses the data itself; anything else (I/O, full disk, memory) may pass.</summary>
    private static SinkException Classify(DuckDBException e) =>
        e.Message.Contains("Conversion Error", StringComparison.Ordinal) || e.Message.Contains("Constraint Error", StringComparison.Ordinal)
        || e.Message.Contains("Invalid Input Error", StringComparison.Ordinal)
            ? new SinkException($"DuckDB refused the data: {e.Message}", isTransient: false, e)
            : new SinkException($"DuckDB write failed: {e.Message}", isTransient: true, e);
}
