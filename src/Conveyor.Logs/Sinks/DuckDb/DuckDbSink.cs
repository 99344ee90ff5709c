using System.Globalization;
using System.Runtime.InteropServices;
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
/// <para><b>Two steps.</b> A batch write is prepared first (<see cref="PrepareBatchAsync"/>, <see cref="DuckDbBatch"/>: the
/// column values, the attributes' JSON as UTF-8, the batch's repeats, its body filter; no connection, no shared
/// state), on the sink lane's two workers, and then written by the one writer, which checks the stored positions,
/// appends the prepared values and commits: the C# per-row work is off the serialised path, which keeps DuckDB's own
/// append and commit.</para>
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
    private readonly StoredPositions _events;
    private readonly StoredPositions _deadLetters;
    private readonly BatchDuplicates _deadLetterDuplicates = new();

    // Preparations' buffers between batches, taken and given back lock-free (a slot is null while its buffers are out);
    // as many as can be in use at once: the lane's two workers and one more.
    private readonly DuckDbBatch.Buffers?[] _pool = new DuckDbBatch.Buffers?[3];
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
    public bool PreparesBatches => true;

    /// <summary>Prepares and writes <paramref name="batch"/> (see <see cref="PrepareBatchAsync"/>).</summary>
    public async ValueTask WriteBatchAsync(IReadOnlyList<LogEvent> batch, CancellationToken cancellationToken)
    {
        var prepared = await PrepareBatchAsync(batch, cancellationToken).ConfigureAwait(false);
        await WritePreparedAsync(prepared, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Everything of a batch write that does not touch the connection (<see cref="DuckDbBatch"/>): the rows' column
    /// values as UTF-8, the batch's repeats dropped, its body filter. Thread-safe: the sink lane runs it on two workers
    /// while one batch at a time is written.
    /// </summary>
    public ValueTask<PreparedBatch> PrepareBatchAsync(IReadOnlyList<LogEvent> batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ObjectDisposedException.ThrowIf(_gate.IsDisposed, this);
        return ValueTask.FromResult<PreparedBatch>(DuckDbBatch.Prepare(batch, RentBuffers(), cancellationToken));
    }

    /// <summary>
    /// Under the gate: appends the rows of a batch <see cref="PrepareBatchAsync"/> made whose positions are not stored
    /// yet, with the batch's body filter and the runs they add, in one transaction.
    /// </summary>
    /// <exception cref="ArgumentException">The batch was not prepared by a DuckDB sink.</exception>
    /// <exception cref="InvalidOperationException">The batch was written already.</exception>
    public ValueTask WritePreparedAsync(PreparedBatch batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch is not DuckDbBatch prepared)
        {
            throw new ArgumentException("The batch was not prepared by a DuckDB sink.", nameof(batch));
        }

        return _gate.RunAsync(
            () =>
            {
                var buffers = prepared.Take();
                try
                {
                    MaybeCompact(AppendPrepared(prepared.Events, buffers, cancellationToken));
                }
                finally
                {
                    ReturnBuffers(buffers);
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
                AppendDeadLetters(batch, cancellationToken);
            },
            cancellationToken);
    }

    /// <summary>
    /// Under the gate: appends the prepared rows whose positions <see cref="_events"/> does not hold yet (a retry or a
    /// replay skips what an earlier write stored), the body filter of the rows appended and the runs of positions they
    /// add to <c>stored_ranges</c>, in one transaction. Returns the time the runs were stamped with.
    /// </summary>
    private DateTimeOffset AppendPrepared(IReadOnlyList<LogEvent> events, DuckDbBatch.Buffers buffers, CancellationToken cancellationToken)
    {
        var positions = new List<(string Stream, long Position)>(buffers.Count);
        var now = _time.GetUtcNow();
        var skipped = false;
        using (var tx = _connection.BeginTransaction())
        {
            using (var appender = _connection.CreateAppender("events"))
            {
                var text = MemoryMarshal.AsMemory(buffers.Text.WrittenMemory).Span;
                for (var i = 0; i < buffers.Count; i++)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    ref readonly var row = ref buffers.Rows[i];
                    if (_events.Contains(row.Stream, row.Position))
                    {
                        skipped = true;
                        continue;
                    }

                    if (row.Size > _options.MaxEventBytes)
                    {
                        throw new SinkException($"event {events[row.Event].Id} is {row.Size} characters, over the limit of {_options.MaxEventBytes} (MaxEventBytes)", isTransient: false);
                    }

                    DuckDbBatch.Append(appender, events[row.Event], in row, text);
                    positions.Add((row.Stream, row.Position));
                }
            }

            if (skipped)
            {
                // Rare (a retry or a replay): the prepared filter covered rows stored before; the block's filter and
                // time range are of the rows this write appends.
                buffers.Filter.Clear();
                for (var i = 0; i < buffers.Count; i++)
                {
                    ref readonly var row = ref buffers.Rows[i];
                    if (!_events.Contains(row.Stream, row.Position))
                    {
                        buffers.Filter.Add(events[row.Event], row.Ts);
                    }
                }
            }

            AppendBodyFilter(buffers.Filter);
            var runs = StoredPositions.Coalesce(positions);
            AppendRanges(EventKind, runs, now);
            tx.Commit();

            // Now true: the rows and their runs are committed together, so remembering the runs cannot skip a lost row.
            _events.Add(runs, now);
        }

        return now;
    }

    /// <summary>
    /// Under the gate: appends to <c>dead_letters</c>, in one transaction with the runs of positions they add to
    /// <c>stored_ranges</c>, the letters of <paramref name="batch"/> whose position is not stored yet, each once (a
    /// batch may repeat an id).
    /// </summary>
    private void AppendDeadLetters(IReadOnlyList<DeadLetter> batch, CancellationToken cancellationToken)
    {
        var positions = new List<(string Stream, long Position)>(batch.Count);
        _deadLetterDuplicates.Clear();
        var now = _time.GetUtcNow();
        using (var tx = _connection.BeginTransaction())
        {
            using (var appender = _connection.CreateAppender("dead_letters"))
            {
                foreach (var d in batch)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    var (streamText, position) = StoredPositions.Split(d.Id);
                    if (_deadLetters.Contains(streamText.Span, position) || _deadLetterDuplicates.Add(streamText.Span, position) is not { } stream)
                    {
                        continue;
                    }

                    AppendDeadLetter(appender, d);
                    positions.Add((stream, position));
                }
            }

            var runs = StoredPositions.Coalesce(positions);
            AppendRanges(DeadLetterKind, runs, now);
            tx.Commit();
            _deadLetters.Add(runs, now);
        }
    }

    /// <summary>Buffers for a preparation: pooled ones when free, else new ones.</summary>
    private DuckDbBatch.Buffers RentBuffers()
    {
        for (var i = 0; i < _pool.Length; i++)
        {
            if (Interlocked.Exchange(ref _pool[i], null) is { } b)
            {
                return b;
            }
        }

        return new DuckDbBatch.Buffers();
    }

    private void ReturnBuffers(DuckDbBatch.Buffers buffers)
    {
        for (var i = 0; i < _pool.Length; i++)
        {
            if (Interlocked.CompareExchange(ref _pool[i], buffers, null) is null)
            {
                return;
            }
        }
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
            });

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
    internal static bool IsHot(KeyValuePair<string, object?> a)
    {
        var ignored = default(HotColumns);
        return TakeHot(a, ref ignored);
    }

    /// <summary>
    /// One look at an attribute's key: a hot one sets its column in <paramref name="columns"/> (as the column holds it:
    /// text, or an integer status); returns true when that column reads back exactly this attribute (key, value and
    /// type), so it stays out of the JSON.
    /// </summary>
    internal static bool TakeHot(KeyValuePair<string, object?> a, ref HotColumns columns)
    {
        switch (a.Key)
        {
            case SemanticNames.HttpResponseStatusCode:
                columns.Status = StoredEvent.AsInt(a.Value);
                return a.Value is long l && l is >= int.MinValue and <= int.MaxValue;
            case SemanticNames.HttpRequestMethod:
                columns.Method = StoredEvent.AsText(a.Value);
                return a.Value is string;
            case SemanticNames.ClientAddress:
                columns.Client = StoredEvent.AsText(a.Value);
                return a.Value is string;
            case SemanticNames.UrlOriginal:
                columns.Url = StoredEvent.AsText(a.Value);
                return a.Value is string;
            case SemanticNames.UserAgentOriginal:
                columns.UserAgent = StoredEvent.AsText(a.Value);
                return a.Value is string;
            default:
                return false;
        }
    }

    /// <summary>
    /// In the batch's transaction: the <see cref="BodyFilter"/> of the rows appended, one row of <c>body_filters</c>
    /// (nothing for a batch that added none).
    /// </summary>
    private void AppendBodyFilter(BodyFilter filter)
    {
        if (filter.Rows == 0)
        {
            return;
        }

        using var appender = _connection.CreateAppender("body_filters");
        appender.CreateRow().AppendValue(filter.Lo).AppendValue(filter.Hi).AppendValue(filter.Rows).AppendValue(filter.Build()).EndRow();
    }

    /// <summary>The hot columns' values of one event, as <see cref="TakeHot"/> fills them.</summary>
    internal struct HotColumns
    {
        public long? Status;
        public string? Method;
        public string? Client;
        public string? Url;
        public string? UserAgent;
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
