using System.Buffers;
using System.Globalization;
using System.Net.Sockets;
using System.Text.Json;
using Conveyor.Logs.Model;
using Npgsql;

namespace Conveyor.Logs.Sinks.Postgres;

/// <summary>
/// The store for scale: each batch is binary-COPied straight into <c>events</c>, partitioned by UTC day (partitions
/// are created on demand, <see cref="PostgresSinkOptions.PartitionDaysAhead"/> ahead), over
/// <see cref="PostgresSinkOptions.CopyStreams"/> connections at once (the sink lane's concurrent writes, each a whole
/// batch on one stream; or one batch split over them). When a stream meets a duplicate key — a
/// replay — its part of the batch instead goes through a session temp table and
/// <c>INSERT … SELECT … ON CONFLICT (ts, id) DO NOTHING</c>. Each part is one transaction, so a failed write may
/// have stored some parts; writing the batch again stores nothing twice, which is what the retry does. The common
/// case pays no staging cost. Closed days get their query indexes from <see cref="ApplyRetentionAsync"/>
/// (see <see cref="PostgresSchema"/>).
/// </summary>
/// <remarks>
/// Failures are classified for <see cref="ResilientSink"/>: data the server refuses (SQLSTATE classes 22, 23, 54,
/// e.g. a NUL byte in text) is permanent; everything else — connection refused or lost, 57P01 admin shutdown,
/// 08xxx, 53300 too many connections, 40001/40P01 — is transient, and the connection pool is cleared so the next
/// attempt reconnects instead of reusing dead sockets.
/// An event without a timestamp is stored at its observed time; a replay that re-observes it (a new observed
/// time) lands elsewhere and is not recognised as a duplicate.
/// </remarks>
public sealed class PostgresSink : ILogSink, ILogRetention
{
    private const string Columns = CopyRows.Columns;

    /// <summary>Bytes of encoded rows handed to the COPY stream at a time.</summary>
    private const int CopyChunkBytes = 256 * 1024;

    /// <summary>Fewest events per COPY stream: a smaller batch is not worth a second connection.</summary>
    private const int MinRowsPerStream = 256;

    private readonly PostgresSinkOptions _options;
    private readonly NpgsqlDataSource _dataSource;
    private readonly TimeProvider _time;
    /// <summary>Days whose partitions exist; read and written by the concurrent writes and by retention.</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<DateOnly, bool> _partitions = new();
    private readonly SinkGate _gate;
    private readonly SlotPool<ArrayBufferWriter<byte>> _copyBuffers;
    private readonly SemaphoreSlim _sealing = new(1, 1);

    private PostgresSink(PostgresSinkOptions options, NpgsqlDataSource dataSource, TimeProvider time, bool hasTrigramIndex)
    {
        _options = options;
        _dataSource = dataSource;
        _time = time;
        HasTrigramIndex = hasTrigramIndex;
        _gate = new SinkGate(this, Classify, OnFailure, shared: options.CopyStreams);
        _copyBuffers = new SlotPool<ArrayBufferWriter<byte>>(options.CopyStreams + 1, static () => new ArrayBufferWriter<byte>(CopyChunkBytes + (64 * 1024)));
    }

    /// <inheritdoc />
    public string Name => "postgres";

    /// <summary>Whether closed days get a pg_trgm index for full-text search over body (false: pg_trgm is unavailable or <see cref="PostgresSinkOptions.FullText"/> is none).</summary>
    public bool HasTrigramIndex { get; }

    /// <summary>Connects and migrates the schema.</summary>
    /// <exception cref="ArgumentException">An option is invalid (the message names it).</exception>
    /// <exception cref="SinkException">The server cannot be reached (transient) or refuses the schema.</exception>
    public static async Task<PostgresSink> OpenAsync(PostgresSinkOptions options, TimeProvider? timeProvider = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var dataSource = NpgsqlDataSource.Create(options.ConnectionString);
        try
        {
            await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            var trigram = await PostgresSchema.MigrateAsync(connection, cancellationToken).ConfigureAwait(false);
            return new PostgresSink(options, dataSource, timeProvider ?? TimeProvider.System, trigram && options.FullText == PostgresFullText.Trigram);
        }
        catch (Exception e) when (Classify(e) is { } failure)
        {
            await dataSource.DisposeAsync().ConfigureAwait(false);
            throw failure;
        }
    }

    /// <summary>
    /// The sink lane hands whole batches to <see cref="PostgresSinkOptions.CopyStreams"/> writes at once, each its own
    /// COPY on its own connection: a write does not wait for another's part to finish, as one batch split over the
    /// streams did (the streams then idled at every batch's end, and the next batch waited for the slower part).
    /// </summary>
    public bool PreparesBatches => true;

    /// <inheritdoc />
    public int ConcurrentWrites => _options.CopyStreams;

    /// <summary>Stores one batch over one COPY stream; the lane runs <see cref="ConcurrentWrites"/> of these at once.</summary>
    public async ValueTask WritePreparedAsync(PreparedBatch batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var events = batch.Events;
        if (events.Count == 0)
        {
            return;
        }

        await _gate.RunSharedAsync(
            async ct =>
            {
                await using var connection = await _dataSource.OpenConnectionAsync(ct).ConfigureAwait(false);
                await EnsurePartitionsAsync(connection, events, ct).ConfigureAwait(false);
                await WritePartAsync(connection, events, ct).ConfigureAwait(false);
                return 0;
            },
            cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask WriteBatchAsync(IReadOnlyList<LogEvent> batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.Count == 0)
        {
            return;
        }

        await RunAsync(
            async (connection, ct) =>
            {
                await EnsurePartitionsAsync(connection, batch, ct).ConfigureAwait(false);
                var streams = Math.Clamp(batch.Count / MinRowsPerStream, 1, _options.CopyStreams);
                if (streams == 1)
                {
                    await WritePartAsync(connection, batch, ct).ConfigureAwait(false);
                    return 0;
                }

                // Contiguous parts, one connection each: the server parses and indexes them on as many backends.
                var parts = new Task[streams];
                var size = (batch.Count + streams - 1) / streams;
                for (var i = 0; i < streams; i++)
                {
                    var part = Slice(batch, i * size, Math.Min(size, batch.Count - (i * size)));
                    parts[i] = i == 0 ? WritePartAsync(connection, part, ct) : WritePartOnNewConnectionAsync(part, ct);
                }

                await Task.WhenAll(parts).ConfigureAwait(false);
                return 0;
            },
            cancellationToken).ConfigureAwait(false);
    }

    private async Task WritePartOnNewConnectionAsync(IReadOnlyList<LogEvent> part, CancellationToken ct)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(ct).ConfigureAwait(false);
        await WritePartAsync(connection, part, ct).ConfigureAwait(false);
    }

    /// <summary>Stores <paramref name="part"/> in one transaction: straight COPY, or staged when some of it is stored already.</summary>
    private async Task WritePartAsync(NpgsqlConnection connection, IReadOnlyList<LogEvent> part, CancellationToken ct)
    {
        if (await TryCopyDirectAsync(connection, part, ct).ConfigureAwait(false))
        {
            return;
        }

        // Some event is already stored (a replay): stage the part and keep only the new rows.
        await using var tx = await connection.BeginTransactionAsync(ct).ConfigureAwait(false);
        await PostgresSchema.ExecuteAsync(
            connection,
            "CREATE TEMP TABLE IF NOT EXISTS conveyor_stage (LIKE events INCLUDING DEFAULTS) ON COMMIT DELETE ROWS",
            ct).ConfigureAwait(false);
        await CopyAsync(connection, "conveyor_stage", part, ct).ConfigureAwait(false);
        await PostgresSchema.ExecuteAsync(
            connection,
            $"INSERT INTO events ({Columns}) SELECT {Columns} FROM conveyor_stage ON CONFLICT (ts, id) DO NOTHING",
            ct).ConfigureAwait(false);
        await tx.CommitAsync(ct).ConfigureAwait(false);
    }

    private static LogEvent[] Slice(IReadOnlyList<LogEvent> batch, int start, int count)
    {
        var copy = new LogEvent[count];
        for (var i = 0; i < count; i++)
        {
            copy[i] = batch[start + i];
        }

        return copy;
    }

    /// <summary>
    /// The fast path: COPY straight into <c>events</c>, as fast as a raw COPY. A duplicate key (the batch, or part
    /// of it, was stored before) aborts it without storing anything; false then sends the batch the staged way.
    /// </summary>
    private async Task<bool> TryCopyDirectAsync(NpgsqlConnection connection, IReadOnlyList<LogEvent> batch, CancellationToken ct)
    {
        await using var tx = await connection.BeginTransactionAsync(ct).ConfigureAwait(false);
        try
        {
            await CopyAsync(connection, "events", batch, ct).ConfigureAwait(false);
            await tx.CommitAsync(ct).ConfigureAwait(false);
            return true;
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            await tx.RollbackAsync(ct).ConfigureAwait(false);
            return false;
        }
    }

    /// <inheritdoc />
    public async ValueTask WriteDeadLettersAsync(IReadOnlyList<DeadLetter> batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.Count == 0)
        {
            return;
        }

        await RunAsync(
            async (connection, ct) =>
            {
                await using var cmd = new NpgsqlCommand(
                    "INSERT INTO dead_letters (id, time, source, parser, reason, raw_line) "
                    + "SELECT * FROM unnest(@id, @time, @source, @parser, @reason, @raw) ON CONFLICT (id) DO NOTHING",
                    connection);
                cmd.Parameters.AddWithValue("id", batch.Select(d => Clean(d.Id)).ToArray());
                cmd.Parameters.AddWithValue("time", batch.Select(d => d.Time.UtcDateTime).ToArray());
                cmd.Parameters.AddWithValue("source", batch.Select(d => Clean(d.Source)).ToArray());
                cmd.Parameters.AddWithValue("parser", batch.Select(d => Clean(d.Parser)).ToArray());
                cmd.Parameters.AddWithValue("reason", batch.Select(d => Clean(d.Reason)).ToArray());
                cmd.Parameters.AddWithValue("raw", batch.Select(d => Clean(d.RawLine)).ToArray());
                return await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            },
            cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask<SinkHealth> CheckHealthAsync(CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            await PostgresSchema.ExecuteAsync(connection, "SELECT 1", cancellationToken).ConfigureAwait(false);
            return SinkHealth.Healthy;
        }
        catch (Exception e) when (e is NpgsqlException or SocketException or IOException or TimeoutException)
        {
            return SinkHealth.Unhealthy(e.Message);
        }
    }

    /// <summary>
    /// Store maintenance, run periodically by the service: drops day partitions that ended more than
    /// <see cref="PostgresSinkOptions.RetentionMaxAge"/> ago and older dead letters; drops the oldest days while the
    /// events take more than <see cref="PostgresSinkOptions.RetentionMaxBytes"/> (never the newest day); then builds
    /// the query indexes of every day that closed at least <see cref="PostgresSinkOptions.SealAfter"/> ago
    /// (<see cref="PostgresSchema.SealSql"/>). Only the drops hold up writes; the index builds run concurrently.
    /// </summary>
    /// <returns>The partitions dropped and the dead letters deleted.</returns>
    public async Task<RetentionResult> ApplyRetentionAsync(CancellationToken cancellationToken = default)
    {
        var result = await RunAsync(DropOldAsync, cancellationToken).ConfigureAwait(false);
        await SealClosedDaysAsync(cancellationToken).ConfigureAwait(false);
        return result;
    }

    /// <summary>The days that were sealed (got their query indexes), oldest first.</summary>
    public async Task<IReadOnlyList<DateOnly>> SealedDaysAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var cmd = new NpgsqlCommand("SELECT day FROM conveyor_sealed ORDER BY day", connection);
        await using var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var days = new List<DateOnly>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            days.Add(reader.GetFieldValue<DateOnly>(0));
        }

        return days;
    }

    private async Task<RetentionResult> DropOldAsync(NpgsqlConnection connection, CancellationToken ct)
    {
        var now = _time.GetUtcNow();
        var days = await PartitionDaysAsync(connection, ct).ConfigureAwait(false);
        long dropped = 0;
        long letters = 0;
        if (_options.EffectiveMaxAge is { } age)
        {
            // A partition goes once its whole day is older than the limit.
            var cutoff = now - age;
            foreach (var day in days.Where(d => new DateTimeOffset(d.AddDays(1).ToDateTime(TimeOnly.MinValue), TimeSpan.Zero) <= cutoff).ToList())
            {
                await DropPartitionAsync(connection, day, ct).ConfigureAwait(false);
                days.Remove(day);
                dropped++;
            }

            await using var delete = new NpgsqlCommand("DELETE FROM dead_letters WHERE time < @cutoff", connection);
            delete.Parameters.AddWithValue("cutoff", cutoff.UtcDateTime);
            letters = await delete.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }

        if (_options.RetentionMaxBytes is { } maxBytes)
        {
            // Newest day last: it is the one being written and is never dropped for size.
            var sizes = new List<(DateOnly Day, long Bytes)>();
            foreach (var day in days)
            {
                await using var size = new NpgsqlCommand("SELECT pg_total_relation_size(@p::regclass)", connection);
                size.Parameters.AddWithValue("p", PostgresSchema.PartitionName(day));
                sizes.Add((day, Convert.ToInt64(await size.ExecuteScalarAsync(ct).ConfigureAwait(false), CultureInfo.InvariantCulture)));
            }

            var total = sizes.Sum(static s => s.Bytes);
            var newestWithRows = await NewestEventDayAsync(connection, ct).ConfigureAwait(false);
            foreach (var (day, bytes) in sizes)
            {
                if (total <= maxBytes || newestWithRows is null || day >= newestWithRows)
                {
                    break;
                }

                await DropPartitionAsync(connection, day, ct).ConfigureAwait(false);
                total -= bytes;
                dropped++;
            }
        }

        return new RetentionResult(0, letters, dropped);
    }

    private async Task DropPartitionAsync(NpgsqlConnection connection, DateOnly day, CancellationToken ct)
    {
        await PostgresSchema.ExecuteAsync(connection, $"DROP TABLE IF EXISTS {PostgresSchema.PartitionName(day)}", ct).ConfigureAwait(false);
        await using var forget = new NpgsqlCommand("DELETE FROM conveyor_sealed WHERE day = @day", connection);
        forget.Parameters.AddWithValue("day", day);
        await forget.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        _partitions.TryRemove(day, out _);
    }

    private static async Task<DateOnly?> NewestEventDayAsync(NpgsqlConnection connection, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("SELECT max(ts) FROM events", connection);
        return await cmd.ExecuteScalarAsync(ct).ConfigureAwait(false) is DateTime t ? DateOnly.FromDateTime(t.ToUniversalTime()) : null;
    }

    /// <summary>The days that have a partition, oldest first.</summary>
    private static async Task<List<DateOnly>> PartitionDaysAsync(NpgsqlConnection connection, CancellationToken ct)
    {
        var days = new List<DateOnly>();
        await using var cmd = new NpgsqlCommand(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass", connection);
        await using var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        while (await reader.ReadAsync(ct).ConfigureAwait(false))
        {
            if (PostgresSchema.PartitionDay(reader.GetString(0)) is { } day)
            {
                days.Add(day);
            }
        }

        days.Sort();
        return days;
    }

    /// <summary>
    /// Builds the query indexes of closed days not sealed yet, on a connection of its own and outside the writer
    /// gate: CREATE INDEX CONCURRENTLY lets late events for that day go on being written meanwhile. An index an
    /// interrupted build left invalid is dropped and built again.
    /// </summary>
    private async Task SealClosedDaysAsync(CancellationToken cancellationToken)
    {
        if (!await _sealing.WaitAsync(0, cancellationToken).ConfigureAwait(false))
        {
            return;
        }

        try
        {
            await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            var lastClosed = DateOnly.FromDateTime((_time.GetUtcNow() - _options.SealAfter).UtcDateTime).AddDays(-1);
            var sealedDays = (await SealedDaysAsync(cancellationToken).ConfigureAwait(false)).ToHashSet();
            foreach (var day in await PartitionDaysAsync(connection, cancellationToken).ConfigureAwait(false))
            {
                if (day > lastClosed || sealedDays.Contains(day))
                {
                    continue;
                }

                await using (var invalid = new NpgsqlCommand(PostgresSchema.InvalidIndexesSql, connection))
                {
                    invalid.Parameters.AddWithValue("partition", PostgresSchema.PartitionName(day));
                    var names = new List<string>();
                    await using (var reader = await invalid.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
                    {
                        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                        {
                            names.Add(reader.GetString(0));
                        }
                    }

                    foreach (var name in names)
                    {
                        await PostgresSchema.ExecuteAsync(connection, $"DROP INDEX CONCURRENTLY IF EXISTS \"{name.Replace("\"", "\"\"", StringComparison.Ordinal)}\"", cancellationToken).ConfigureAwait(false);
                    }
                }

                // No command timeout: a concurrent build waits for every transaction older than it and then reads
                // the whole day (the trigram index of a million-row day took minutes here), so the connection
                // string's timeout (30 s by default) failed it at every interval, leaving the day unindexed for
                // good. Shutdown still cancels it through the token; an index it leaves invalid is rebuilt above.
                foreach (var sql in PostgresSchema.SealSql(day, HasTrigramIndex))
                {
                    await PostgresSchema.ExecuteAsync(connection, sql, timeoutSeconds: 0, cancellationToken).ConfigureAwait(false);
                }

                await using var mark = new NpgsqlCommand("INSERT INTO conveyor_sealed (day) VALUES (@day) ON CONFLICT (day) DO NOTHING", connection);
                mark.Parameters.AddWithValue("day", day);
                await mark.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (Classify(e) is { } failure)
        {
            throw failure;
        }
        finally
        {
            _sealing.Release();
        }
    }

    /// <summary>Waits for a write in progress, then closes every connection.</summary>
    public ValueTask DisposeAsync() => _gate.DisposeAsync(_dataSource.DisposeAsync);

    /// <summary>Runs <paramref name="work"/> on a pooled connection under the writer gate, classifying failures.</summary>
    private ValueTask<T> RunAsync<T>(Func<NpgsqlConnection, CancellationToken, Task<T>> work, CancellationToken cancellationToken) =>
        _gate.RunAsync(
            async ct =>
            {
                await using var connection = await _dataSource.OpenConnectionAsync(ct).ConfigureAwait(false);
                return await work(connection, ct).ConfigureAwait(false);
            },
            cancellationToken);

    private async Task EnsurePartitionsAsync(NpgsqlConnection connection, IReadOnlyList<LogEvent> batch, CancellationToken ct)
    {
        var needed = new HashSet<DateOnly>();
        DateOnly? last = null;
        foreach (var e in batch)
        {
            // A batch is mostly one day: each run of one day is looked up once.
            var day = DateOnly.FromDateTime(e.EffectiveTimestamp.UtcDateTime);
            if (day == last)
            {
                continue;
            }

            last = day;
            for (var ahead = 0; ahead <= _options.PartitionDaysAhead; ahead++)
            {
                var d = day.AddDays(ahead);
                if (!_partitions.ContainsKey(d))
                {
                    needed.Add(d);
                }
            }
        }

        foreach (var day in needed)
        {
            try
            {
                await PostgresSchema.ExecuteAsync(connection, PostgresSchema.CreatePartitionSql(day), ct).ConfigureAwait(false);
            }
            catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.DuplicateTable or PostgresErrorCodes.UniqueViolation)
            {
                // Another writer created it between our IF NOT EXISTS check and the create: it exists, which is all we need.
            }

            _partitions[day] = true;
        }
    }

    private async Task CopyAsync(NpgsqlConnection connection, string table, IReadOnlyList<LogEvent> batch, CancellationToken ct)
    {
        // The rows go to the server in chunks of CopyChunkBytes as they are encoded, so the server parses one while
        // the next is made, and the buffer stays small and is reused (a buffer per part, megabytes, landed on the
        // large-object heap and kept the background GC busy for a third of conveyor's CPU: measured).
        var rows = _copyBuffers.Rent();
        try
        {
            rows.ResetWrittenCount();
            using var json = new Utf8JsonWriter(rows, LogEventJson.WriterOptions);
            await using var copy = await connection.BeginRawBinaryCopyAsync($"COPY {table} ({Columns}) FROM STDIN (FORMAT BINARY)", ct).ConfigureAwait(false);
            CopyRows.WriteHeader(rows);
            var coldKeys = new CopyRows.ColdKeys();
            foreach (var e in batch)
            {
                CopyRows.WriteRow(e, rows, json, coldKeys);
                if (rows.WrittenCount >= CopyChunkBytes)
                {
                    await copy.WriteAsync(rows.WrittenMemory, ct).ConfigureAwait(false);
                    rows.ResetWrittenCount();
                }
            }

            CopyRows.WriteTrailer(rows);
            await copy.WriteAsync(rows.WrittenMemory, ct).ConfigureAwait(false);

            // Disposing the stream ends the COPY and reads the server's answer: a refused row throws from here.
        }
        finally
        {
            _copyBuffers.Return(rows);
        }
    }

    /// <summary>PostgreSQL text cannot hold NUL; a dead letter must still be storable, so NUL becomes U+FFFD there.</summary>
    private static string Clean(string s) => s.Contains('\0', StringComparison.Ordinal) ? s.Replace('\0', '\uFFFD') : s;

    private void OnFailure(SinkException failure)
    {
        if (failure.IsTransient)
        {
            // After a restart every pooled socket is dead; drop them so the retry reconnects at once.
            _dataSource.Clear();
            _partitions.Clear();
        }
    }

    /// <summary>Maps a failure to transient or permanent; null for exceptions that are not about the store (bugs, cancellation).</summary>
    internal static SinkException? Classify(Exception e) => e switch
    {
        OperationCanceledException => null,
        SinkException s => s,
        PostgresException p when p.SqlState.StartsWith("22", StringComparison.Ordinal) || p.SqlState.StartsWith("23", StringComparison.Ordinal) || p.SqlState.StartsWith("54", StringComparison.Ordinal)
            => new SinkException($"PostgreSQL refused the data ({p.SqlState}): {p.MessageText}", isTransient: false, p),
        PostgresException p => new SinkException($"PostgreSQL failed ({p.SqlState}): {p.MessageText}", isTransient: true, p),
        NpgsqlException or SocketException or IOException or TimeoutException => new SinkException($"PostgreSQL unreachable: {e.Message}", isTransient: true, e),
        InvalidOperationException when e.Source == "Npgsql" => new SinkException($"PostgreSQL connection broken: {e.Message}", isTransient: true, e),
        _ => null,
    };
}
