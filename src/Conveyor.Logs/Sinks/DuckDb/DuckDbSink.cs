using System.Globalization;
using Conveyor.Logs.Model;
using Conveyor.Logs.Query;
using DuckDB.NET.Data;

namespace Conveyor.Logs.Sinks.DuckDb;

/// <summary>
/// The embedded default store (<c>duckdb:PATH</c>): one DuckDB database, <see cref="DuckDbSinkOptions.Writers"/> writer
/// connections each appending a batch through DuckDB's appender (<see cref="EventAppender"/>) in one transaction, rows
/// in arrival order, no index.
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
/// state), on the sink lane's workers, and then written by a writer, which reserves the positions it will store,
/// appends the prepared values and commits: the C# per-row work is off the write path, which keeps DuckDB's own
/// append and commit.</para>
/// <para><b>Several writers.</b> Connections of one DuckDB instance append to one table in parallel (appends do not
/// conflict; commits serialise inside DuckDB), so with <see cref="DuckDbSinkOptions.Writers"/> &gt; 1 that many batch
/// writes run at once, each on a free connection (<see cref="SinkGate.RunSharedAsync{T}"/>). What holds for
/// idempotence: under <see cref="_positionsLock"/> a write decides which of its rows are new (not in
/// <see cref="_events"/>) and reserves their positions, so a concurrent write of the same positions (a replay racing
/// its original) waits for that reservation to end and then decides again: the committed runs are added, or a failed
/// write's reservation is dropped, under the same lock. A row is therefore appended by one write only, and a write
/// reports stored only what is committed. Dead letters, compaction, retention, the probe and disposal stay exclusive:
/// they run with no write in progress, on the first connection.</para>
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

    // Every writer connection, _connection first; the free ones are on _free (under _positionsLock). A shared hold of
    // the gate always finds one: the gate admits Writers shared calls and each takes one connection.
    private readonly DuckDBConnection[] _writers;
    private readonly Stack<DuckDBConnection> _free;
    private readonly object _positionsLock = new();
    private readonly List<Reservation> _reserved = [];
    private int _peakWrites;
    private readonly SinkGate _gate;
    private readonly StoredPositions _events;
    private readonly StoredPositions _deadLetters;
    private readonly BatchDuplicates _deadLetterDuplicates = new();
    private readonly SearchPriority _searches;

    // Preparations' buffers between batches: as many as can be in use at once, the lane's workers (max(2, Writers)) and one more.
    private readonly SlotPool<DuckDbBatch.Buffers> _pool;
    private long _rangeRowsSinceCompaction;
    private DateTimeOffset _lastCompaction;

    private DuckDbSink(DuckDbSinkOptions options, TimeProvider time, string connectionString, DuckDBConnection[] writers)
    {
        _options = options;
        _time = time;
        _connectionString = connectionString;
        _writers = writers;
        _connection = writers[0];
        _free = new Stack<DuckDBConnection>(writers);
        _pool = new SlotPool<DuckDbBatch.Buffers>(Math.Max(2, writers.Length) + 1, static () => new DuckDbBatch.Buffers());
        _events = new StoredPositions(options.MaxRangesPerStream);
        _deadLetters = new StoredPositions(options.MaxRangesPerStream);
        _gate = new SinkGate(this, static e => e is DuckDBException d ? Classify(d) : null, shared: writers.Length);
        _searches = new SearchPriority(time);
    }

    /// <summary>The searches of <see cref="OpenStore"/> that the writes wait for (<see cref="DuckDbSinkOptions.SearchesFirst"/>).</summary>
    internal SearchPriority Searches => _searches;

    /// <summary>Batch writes that may run at once: <see cref="DuckDbSinkOptions.Writers"/>.</summary>
    public int ConcurrentWrites => _writers.Length;

    /// <inheritdoc />
    public string Name => "duckdb";

    /// <summary>The database file, as a full path.</summary>
    public string Path { get; private init; } = string.Empty;

    /// <summary>Runs in a batch write after its rows are appended, before its commit: tests hold writes in progress with it.</summary>
    internal Action? BeforeCommit { get; set; }

    /// <summary>Batch writes appending now (each on its writer connection), and the most there were at once, for tests and diagnostics.</summary>
    internal (int Now, int Peak) WritesInProgress
    {
        get
        {
            lock (_positionsLock)
            {
                return (_writers.Length - _free.Count, _peakWrites);
            }
        }
    }

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
        var writers = new List<DuckDBConnection>();
        try
        {
            var folder = System.IO.Path.GetDirectoryName(path);
            if (!string.IsNullOrEmpty(folder))
            {
                Directory.CreateDirectory(folder);
            }

            var connectionString = ConnectionString(path, options.MemoryLimit, options.Threads, readOnly: false, options.CheckpointThreshold);
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(DuckDbStoreConnection.InstanceFile(path))!);
            connection = new DuckDbStoreConnection(connectionString, path);
            connection.Open();
            DuckDbSchema.Migrate(connection);
            writers.Add(connection);
            while (writers.Count < options.Writers)
            {
                // The same connection string, so the same database instance (its one memory limit and thread pool).
                var writer = new DuckDbStoreConnection(connectionString, path);
                writers.Add(writer);
                writer.Open();
            }

            var time = timeProvider ?? TimeProvider.System;
            var sink = new DuckDbSink(options, time, connectionString, [.. writers]) { Path = path };
            sink.LoadRanges();
            sink.CompactRanges();
            DuckDbStoreConnection.RegisterWriter(path, connectionString);
            return Task.FromResult(sink);
        }
        catch (Exception e) when (e is DuckDBException or IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            foreach (var w in writers.Skip(1))
            {
                w.Dispose();
            }

            connection?.Dispose();
            DuckDbStoreConnection.DeleteInstanceFile(path);
            throw new SinkException($"Cannot open DuckDB database '{path}': {Reason(e)}", isTransient: false, e);
        }
    }

    /// <summary>
    /// DuckDB's <c>late_materialization_max_rows</c> (its default 50): a newest-first page up to this many rows (limit
    /// plus offset) finds its rows by time and row id first and reads the other columns of those rows alone. Above
    /// it DuckDB carries every column of every candidate row through the sort, which for the API's default page of
    /// 100 cost 70–80 ms on 3M rows against 27–42 ms with this setting (docs/BENCHMARKS.md, "Newest-first pages").
    /// </summary>
    internal const int LateMaterializationRows = 1000;

    /// <summary>
    /// A connection string for <paramref name="path"/> (a full path): read-only, the file itself; read-write, the
    /// instance its <see cref="DuckDbStoreConnection"/>s attach the file to (DuckDB.NET shares one instance per
    /// connection string).
    /// </summary>
    internal static string ConnectionString(string path, long memoryLimit, int threads, bool readOnly, long? checkpointThreshold = null)
    {
        var b = new DuckDBConnectionStringBuilder { DataSource = readOnly ? path : DuckDbStoreConnection.InstanceFile(path) };
        b["memory_limit"] = (memoryLimit >> 20).ToString(CultureInfo.InvariantCulture) + "MiB";
        b["threads"] = threads.ToString(CultureInfo.InvariantCulture);
        b["late_materialization_max_rows"] = LateMaterializationRows.ToString(CultureInfo.InvariantCulture);
        if (checkpointThreshold is { } wal)
        {
            b["checkpoint_threshold"] = (wal >> 20).ToString(CultureInfo.InvariantCulture) + "MiB";
        }

        if (readOnly)
        {
            b["access_mode"] = "READ_ONLY";
        }

        return b.ToString();
    }

    /// <summary>
    /// A new, unopened connection to the store at <paramref name="path"/> (a full path). Read-only goes through the
    /// instance of a sink writing that file in this process when there is one (a second instance would read a file
    /// another one is writing), else opens the file read-only.
    /// </summary>
    internal static DuckDBConnection NewConnection(string path, long memoryLimit, int threads, bool readOnly, long? checkpointThreshold = null)
    {
        if (readOnly && DuckDbStoreConnection.TryGetWriter(path, out var writer))
        {
            return new DuckDbStoreConnection(writer, path);
        }

        var connectionString = ConnectionString(path, memoryLimit, threads, readOnly, checkpointThreshold);
        return readOnly ? new DuckDBConnection(connectionString) : new DuckDbStoreConnection(connectionString, path);
    }

    /// <summary>
    /// A search over this sink's database through its own instance (no second open of the file, which DuckDB would
    /// refuse): what <c>/api/search</c> and the dashboard use while the service writes. Disposing it leaves the sink open.
    /// </summary>
    public ILogStore OpenStore() =>
        new SqlLogStore(SqlDialect.DuckDb, () => new DuckDbStoreConnection(_connectionString, Path), null, priority: _options.SearchesFirst ? _searches : null);

    /// <inheritdoc />
    public bool PreparesBatches => true;

    /// <summary>Prepares and writes <paramref name="batch"/> (see <see cref="PrepareBatchAsync"/>).</summary>
    public ValueTask WriteBatchAsync(IReadOnlyList<LogEvent> batch, CancellationToken cancellationToken) =>
        ILogSink.PrepareAndWriteAsync(this, batch, cancellationToken);

    /// <summary>
    /// Everything of a batch write that does not touch the connection (<see cref="DuckDbBatch"/>): the rows' column
    /// values as UTF-8, the batch's repeats dropped, its body filter. Thread-safe: the sink lane runs it on its workers
    /// beside the writes.
    /// </summary>
    public ValueTask<PreparedBatch> PrepareBatchAsync(IReadOnlyList<LogEvent> batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ObjectDisposedException.ThrowIf(_gate.IsDisposed, this);
        var searched = _searches.WaitAsync(cancellationToken);
        return searched.IsCompletedSuccessfully
            ? ValueTask.FromResult<PreparedBatch>(DuckDbBatch.Prepare(batch, _pool.Rent(), cancellationToken))
            : PrepareAfterSearchesAsync(searched, batch, cancellationToken);
    }

    private async ValueTask<PreparedBatch> PrepareAfterSearchesAsync(ValueTask searched, IReadOnlyList<LogEvent> batch, CancellationToken cancellationToken)
    {
        await searched.ConfigureAwait(false);
        return DuckDbBatch.Prepare(batch, _pool.Rent(), cancellationToken);
    }

    /// <summary>
    /// Under a shared hold of the gate, on a free writer: appends the rows of a batch <see cref="PrepareBatchAsync"/>
    /// made whose positions are not stored yet, with the batch's body filter and the runs they add, in one transaction;
    /// then, when due, compacts <c>stored_ranges</c> under an exclusive hold.
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

        return WriteAsync(prepared, cancellationToken);
    }

    private async ValueTask WriteAsync(DuckDbBatch prepared, CancellationToken cancellationToken)
    {
        var buffers = prepared.Take();
        DateTimeOffset now;
        try
        {
            await _searches.WaitAsync(cancellationToken).ConfigureAwait(false);
            // The reservation is taken before the gate: a write that waits for another write of its positions (a
            // replay racing its original) holds no writer meanwhile, so the other writers go on appending.
            var (reservation, skipped) = await ReserveAsync(buffers, cancellationToken).ConfigureAwait(false);
            try
            {
                now = await _gate.RunSharedAsync(
                    ct => ValueTask.FromResult(AppendPrepared(prepared.Events, buffers, reservation, skipped, ct)),
                    cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                // A write that never reached the gate (disposed, cancelled) ends its reservation here; no-op otherwise.
                EndReservation(reservation, committedAt: null);
            }
        }
        finally
        {
            _pool.Return(buffers);
        }

        if (CompactionDue(now))
        {
            await _gate.RunAsync(() => MaybeCompact(_time.GetUtcNow()), cancellationToken).ConfigureAwait(false);
        }
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
    private DateTimeOffset AppendPrepared(IReadOnlyList<LogEvent> events, DuckDbBatch.Buffers buffers, Reservation reservation, bool skipped, CancellationToken cancellationToken)
    {
        DuckDBConnection connection;
        lock (_positionsLock)
        {
            connection = _free.Pop();
            _peakWrites = Math.Max(_peakWrites, _writers.Length - _free.Count);
        }

        var committed = false;
        var now = _time.GetUtcNow();
        try
        {
            using (var tx = connection.BeginTransaction())
            {
                using (var appender = EventAppender.Create(connection))
                {
                    var text = buffers.Text.WrittenSpan;
                    for (var i = 0; i < buffers.Count; i++)
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        ref readonly var row = ref buffers.Rows[i];
                        if (row.Stored)
                        {
                            continue;
                        }

                        if (row.Size > _options.MaxEventBytes)
                        {
                            throw new SinkException($"event {events[row.Event].Id} is {row.Size} characters, over the limit of {_options.MaxEventBytes} (MaxEventBytes)", isTransient: false);
                        }

                        appender.Append(in row, text);
                    }

                    appender.Close();
                }

                if (skipped)
                {
                    // Rare (a retry or a replay): the prepared filter covered rows stored before; the block's filter and
                    // time range are of the rows this write appends.
                    buffers.Filter.Clear();
                    for (var i = 0; i < buffers.Count; i++)
                    {
                        ref readonly var row = ref buffers.Rows[i];
                        if (!row.Stored)
                        {
                            buffers.Filter.Add(events[row.Event], row.Ts);
                        }
                    }
                }

                AppendBodyFilter(connection, buffers.Filter);
                AppendRanges(connection, EventKind, reservation.Runs, now);
                BeforeCommit?.Invoke();
                tx.Commit();
                committed = true;
            }
        }
        finally
        {
            // Still under the gate's shared hold: an exclusive compaction never rewrites stored_ranges between this
            // commit and the runs joining _events.
            EndReservation(reservation, committed ? now : null);
            lock (_positionsLock)
            {
                _free.Push(connection);
            }
        }

        return now;
    }

    /// <summary>
    /// Once per reservation (later calls do nothing): the committed runs join <see cref="_events"/> (when
    /// <paramref name="committedAt"/> is given), the positions are no longer reserved, and the writes waiting on them decide again.
    /// </summary>
    private void EndReservation(Reservation reservation, DateTimeOffset? committedAt)
    {
        lock (_positionsLock)
        {
            if (!_reserved.Remove(reservation))
            {
                return;
            }

            // Now true when committed: the rows and their runs are committed together, so remembering the runs
            // cannot skip a lost row.
            if (committedAt is { } at)
            {
                _events.Add(reservation.Runs, at);
            }
        }

        reservation.Ended.TrySetResult();
    }

    /// <summary>
    /// Marks the rows already stored (<see cref="DuckDbBatch.Row.Stored"/>) and reserves the others' positions, under
    /// <see cref="_positionsLock"/>; a row another write has reserved waits for that write to end, then all is decided
    /// again (it committed: the row is skipped; it failed: this write takes it).
    /// </summary>
    private async ValueTask<(Reservation Reservation, bool Skipped)> ReserveAsync(DuckDbBatch.Buffers buffers, CancellationToken cancellationToken)
    {
        // The batch's own list (pooled with its buffers): one of 20,000 positions is 320 KB, which a new list would
        // take from the large object heap on every write, and those allocations are what started gen-2 collections.
        var positions = buffers.Positions;
        while (true)
        {
            Task? busy = null;
            lock (_positionsLock)
            {
                positions.Clear();
                var skipped = false;
                for (var i = 0; i < buffers.Count && busy is null; i++)
                {
                    ref var row = ref buffers.Rows[i];
                    row.Stored = _events.Contains(row.Stream, row.Position);
                    if (row.Stored)
                    {
                        skipped = true;
                    }
                    else if (ReservedBy(row.Stream, row.Position) is { } other)
                    {
                        busy = other.Ended.Task;
                    }
                    else
                    {
                        positions.Add((row.Stream, row.Position));
                    }
                }

                if (busy is null)
                {
                    var reservation = new Reservation(StoredPositions.Coalesce(positions));
                    _reserved.Add(reservation);
                    return (reservation, skipped);
                }
            }

            await busy.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Under <see cref="_positionsLock"/>: the write in progress that reserved this position, if any. A linear look is
    /// enough: there is one reservation per write appending or waiting for a writer (the lane's workers, a few runs each).
    /// </summary>
    private Reservation? ReservedBy(string stream, long position)
    {
        foreach (var r in _reserved)
        {
            foreach (var run in r.Runs)
            {
                if (position >= run.Lo && position <= run.Hi && string.Equals(run.Stream, stream, StringComparison.Ordinal))
                {
                    return r;
                }
            }
        }

        return null;
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
            AppendRanges(_connection, DeadLetterKind, runs, now);
            tx.Commit();
            _deadLetters.Add(runs, now);
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

                DuckDbStoreConnection.UnregisterWriter(Path);
                for (var i = _writers.Length - 1; i >= 0; i--)
                {
                    await _writers[i].DisposeAsync().ConfigureAwait(false);
                }

                DuckDbStoreConnection.DeleteInstanceFile(Path);
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

    /// <summary>
    /// In the batch's transaction: the <see cref="BodyFilter"/> of the rows appended, one row of <c>body_filters</c>
    /// (nothing for a batch that added none).
    /// </summary>
    private static void AppendBodyFilter(DuckDBConnection connection, BodyFilter filter)
    {
        if (filter.Rows == 0)
        {
            return;
        }

        using var appender = connection.CreateAppender("body_filters");
        appender.CreateRow().AppendValue(filter.Lo).AppendValue(filter.Hi).AppendValue(filter.Rows).AppendValue(filter.Build()).EndRow();
    }

    private void AppendRanges(DuckDBConnection connection, string kind, List<StreamRange> runs, DateTimeOffset now)
    {
        if (runs.Count == 0)
        {
            return;
        }

        using var appender = connection.CreateAppender("stored_ranges");
        foreach (var r in runs)
        {
            appender.CreateRow().AppendValue(kind).AppendValue(r.Stream).AppendValue(r.Lo).AppendValue(r.Hi).AppendValue(now.UtcDateTime).EndRow();
        }

        Interlocked.Add(ref _rangeRowsSinceCompaction, runs.Count);
    }

    /// <summary>A write in progress: the runs of positions it will store, and its end (committed or not).</summary>
    private sealed class Reservation(List<StreamRange> runs)
    {
        public List<StreamRange> Runs { get; } = runs;

        public TaskCompletionSource Ended { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
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

    /// <summary>Under an exclusive hold (no write changes the positions meanwhile).</summary>
    private void MaybeCompact(DateTimeOffset now)
    {
        if (CompactionDue(now))
        {
            CompactRanges();
        }
    }

    // Under the positions lock, as other writes add runs beside it (_lastCompaction changes only under an exclusive hold).
    private bool CompactionDue(DateTimeOffset now)
    {
        lock (_positionsLock)
        {
            return Interlocked.Read(ref _rangeRowsSinceCompaction) > Math.Max(50_000, 4L * RememberedRanges) || now - _lastCompaction > CompactEvery;
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
    private static SinkException Classify(DuckDBException e) => Classify(e.Message, e);

    /// <summary>The same for a message of DuckDB's (<paramref name="inner"/> its exception, when there is one).</summary>
    internal static SinkException Classify(string message, Exception? inner) =>
        message.Contains("Conversion Error", StringComparison.Ordinal) || message.Contains("Constraint Error", StringComparison.Ordinal)
        || message.Contains("Invalid Input Error", StringComparison.Ordinal)
            ? new SinkException($"DuckDB refused the data: {message}", isTransient: false, inner)
            : new SinkException($"DuckDB write failed: {message}", isTransient: true, inner);
}
