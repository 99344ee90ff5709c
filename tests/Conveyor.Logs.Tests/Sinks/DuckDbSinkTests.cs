using Conveyor.Logs.Model;
using Conveyor.Logs.Query;
using Conveyor.Logs.Sinks;
using Conveyor.Logs.Sinks.DuckDb;
using Conveyor.Logs.Tests.Support;
using DuckDB.NET.Data;

namespace Conveyor.Logs.Tests.Sinks;

public sealed class DuckDbSinkContractTests : SinkContractTests
{
    private readonly string _path = Path.Combine(TestEvents.TempFolder(), "conveyor.duckdb");

    protected override async Task<ILogSink> OpenSinkAsync() => await DuckDbSink.OpenAsync(new DuckDbSinkOptions { Path = _path, MaxEventBytes = 4096 });

    protected override Task<long> CountStoredAsync() => Task.FromResult(DuckDbTestDb.Scalar(_path, "SELECT count(*) FROM events"));

    protected override Task<long> CountDeadLettersAsync() => Task.FromResult(DuckDbTestDb.Scalar(_path, "SELECT count(*) FROM dead_letters"));

    /// <summary>DuckDB stores any text, so the poison is an event over the sink's size limit.</summary>
    protected override LogEvent Poison(string id) => new(id, "web", new string('x', 10_000), TestEvents.Base);
}

internal static class DuckDbTestDb
{
    /// <summary>Reads the closed database file read-only.</summary>
    public static long Scalar(string path, string sql)
    {
        using var c = DuckDbSink.NewConnection(Path.GetFullPath(path), 64L << 20, 1, readOnly: true);
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        return Convert.ToInt64(cmd.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }
}

/// <summary>Idempotence without a unique index (<see cref="StoredPositions"/>), and what opening refuses.</summary>
public sealed class DuckDbSinkTests
{
    private readonly string _path = Path.Combine(TestEvents.TempFolder(), "conveyor.duckdb");

    /// <summary>TCP-like ids: STREAM:LINE, several streams interleaved.</summary>
    private static List<LogEvent> Stream(string stream, int from, int count) =>
        Enumerable.Range(from, count).Select(i => new LogEvent($"{stream}:{i}", "tcp", $"line {i} of {stream}", TestEvents.Base.AddMilliseconds(i))).ToList();

    private static async Task<long> CountAsync(DuckDbSink sink)
    {
        await using var store = sink.OpenStore();
        return await store.CountAsync(new LogQuery(null));
    }

    /// <summary>Counts what the failure path hands the store: events in every attempt, and in the attempts that succeeded.</summary>
    private sealed class CountingSink(ILogSink inner) : ILogSink
    {
        private long _handed;
        private long _stored;

        public long Handed => Interlocked.Read(ref _handed);

        public long Stored => Interlocked.Read(ref _stored);

        public string Name => inner.Name;

        public async ValueTask WriteBatchAsync(IReadOnlyList<LogEvent> batch, CancellationToken cancellationToken)
        {
            Interlocked.Add(ref _handed, batch.Count);
            await inner.WriteBatchAsync(batch, cancellationToken);
            Interlocked.Add(ref _stored, batch.Count);
        }

        public ValueTask WriteDeadLettersAsync(IReadOnlyList<DeadLetter> batch, CancellationToken cancellationToken) => inner.WriteDeadLettersAsync(batch, cancellationToken);

        public ValueTask<SinkHealth> CheckHealthAsync(CancellationToken cancellationToken) => inner.CheckHealthAsync(cancellationToken);

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }

    [Fact]
    public async Task SinkLane_DefaultBatchOf20000WithOnePoison_WritesEachGoodEventOnceAndBoundsTheRewrites()
    {
        const int n = 20_000;
        var batch = Stream("tcp:1", 0, n);
        batch[12_345] = new LogEvent("tcp:1:12345", "tcp", new string('x', 10_000), TestEvents.Base);
        var counting = new CountingSink(await DuckDbSink.OpenAsync(new DuckDbSinkOptions { Path = _path, MaxEventBytes = 4096 }));
        await using (var sink = new ResilientSink(counting))
        {
            var report = await SinkLaneHarness.WriteAsync(sink, batch, batchMaxItems: SinkRegistry.Defaults("duckdb:" + _path).DefaultBatchMaxItems);
            Assert.Equal((n - 1L, 1L, 0L), (report.StoredEvents, report.Rejected, report.Failed));
        }

        // Bisection writes each good half once: no good event is stored twice, and what the store is handed again
        // is the halves on the poison's path, n + n/2 + ... < 3n in all (the first attempt included), 15 levels deep.
        Assert.Equal(n - 1, counting.Stored);
        Assert.InRange(counting.Handed, n, 3L * n);
        Assert.Equal(n - 1, DuckDbTestDb.Scalar(_path, "SELECT count(*) FROM events"));
        Assert.Equal(1, DuckDbTestDb.Scalar(_path, "SELECT count(*) FROM dead_letters WHERE id = 'tcp:1:12345' AND parser = 'sink:duckdb'"));
    }

    [Fact]
    public async Task WriteBatchAsync_FullBatch_IsOneRowGroupInANewFileOfSmallBlocks()
    {
        var rows = DuckDbStoreConnection.RowGroupSize;
        await using (var sink = await DuckDbSink.OpenAsync(new DuckDbSinkOptions { Path = _path }))
        {
            // Two full batches and a partial one: each full one is a row group of its own, whatever came before.
            await sink.WriteBatchAsync([.. Enumerable.Range(0, rows).Select(i => TestEvents.Access("a", i))], default);
            await sink.WriteBatchAsync([.. Enumerable.Range(0, 100).Select(i => TestEvents.Access("b", i))], default);
            await sink.WriteBatchAsync([.. Enumerable.Range(0, rows).Select(i => TestEvents.Access("c", i))], default);

            // A read-only store opened in this process goes through the writer's instance and sees every row.
            await using var store = LogStore.Open("duckdb:" + _path);
            Assert.Equal((2 * rows) + 100, await store.CountAsync(new LogQuery(string.Empty)));
            Assert.True(File.Exists(DuckDbStoreConnection.InstanceFile(sink.Path)), "the instance's own file is in the temporary folder");
        }

        Assert.False(File.Exists(DuckDbStoreConnection.InstanceFile(Path.GetFullPath(_path))), "closing the sink deletes the instance's file");
        Assert.Equal([Path.GetFileName(_path)], Directory.GetFiles(Path.GetDirectoryName(Path.GetFullPath(_path))!).Select(Path.GetFileName));

        Assert.Equal((2 * rows) + 100, DuckDbTestDb.Scalar(_path, "SELECT count(*) FROM events"));
        Assert.Equal(DuckDbStoreConnection.NewFileBlockSize, DuckDbTestDb.Scalar(_path, "SELECT block_size FROM pragma_database_size()"));
        Assert.Equal(rows, DuckDbTestDb.Scalar(_path, "SELECT max(count) FROM (SELECT row_group_id, max(start + count) - min(start) AS count FROM pragma_storage_info('events') WHERE column_name = 'id' GROUP BY row_group_id)"));
        Assert.Equal(2, DuckDbTestDb.Scalar(_path, "SELECT count(*) FROM (SELECT row_group_id FROM pragma_storage_info('events') WHERE column_name = 'id' GROUP BY row_group_id HAVING max(start + count) - min(start) = " + rows + ")"));
    }

    [Fact]
    public async Task OpenAsync_ExistingFileWithDuckDbsBlocks_KeepsThemAndStores()
    {
        using (var c = new DuckDBConnection("DataSource=" + Path.GetFullPath(_path) + ";storage_compatibility_version=" + DuckDbSchema.StorageVersion))
        {
            c.Open();
            DuckDbSchema.Migrate(c);
        }

        await using (var sink = await DuckDbSink.OpenAsync(new DuckDbSinkOptions { Path = _path }))
        {
            await sink.WriteBatchAsync([.. Enumerable.Range(0, 10).Select(i => TestEvents.Access("a", i))], default);
        }

        Assert.Equal(256 << 10, DuckDbTestDb.Scalar(_path, "SELECT block_size FROM pragma_database_size()"));
        Assert.Equal(10, DuckDbTestDb.Scalar(_path, "SELECT count(*) FROM events"));
    }

    [Fact]
    public async Task OpenAsync_CheckpointThreshold_IsTheDatabasesOwnSetting()
    {
        await using var sink = await DuckDbSink.OpenAsync(new DuckDbSinkOptions { Path = _path, CheckpointThreshold = 48L << 20 });

        // DuckDB.NET shares one instance per path in a process: a second connection reads the writer's settings.
        using var c = DuckDbSink.NewConnection(sink.Path, 64L << 20, 1, readOnly: false);
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT current_setting('checkpoint_threshold')";
        Assert.Equal("48.0 MiB", cmd.ExecuteScalar() as string);
        Assert.Throws<ArgumentException>(() => new DuckDbSinkOptions { Path = _path, CheckpointThreshold = 1L << 31 }.Validate());
    }

    [Fact]
    public async Task WriteBatchAsync_BatchesOutOfOrderThenReplayed_StoresEachEventOnce()
    {
        await using var sink = await DuckDbSink.OpenAsync(new DuckDbSinkOptions { Path = _path });
        var parts = new[] { Stream("tcp:1:1", 0, 100), Stream("tcp:1:1", 100, 100), Stream("tcp:1:1", 200, 100), Stream("tcp:1:2", 0, 50) };

        // Parse workers finish out of order: the third part lands before the second. A single high-water mark would
        // now skip all of the second part.
        await sink.WriteBatchAsync(parts[0], default);
        await sink.WriteBatchAsync(parts[2], default);
        await sink.WriteBatchAsync([.. parts[3], .. parts[1]], default);
        Assert.Equal(350, await CountAsync(sink));

        // Every part again, in another order, and a batch that mixes old and new positions.
        foreach (var p in parts.Reverse())
        {
            await sink.WriteBatchAsync(p, default);
        }

        await sink.WriteBatchAsync([.. Stream("tcp:1:1", 290, 20)], default);
        Assert.Equal(360, await CountAsync(sink));
        Assert.Equal(2, sink.RememberedRanges);
    }

    [Fact]
    public async Task WriteBatchAsync_ReplayAfterReopen_StoresNothingTwice()
    {
        var first = Stream("http:1700000000000:7", 0, 500);
        var gap = Stream("http:1700000000000:7", 500, 10);
        var after = Stream("http:1700000000000:7", 510, 90);
        await using (var sink = await DuckDbSink.OpenAsync(new DuckDbSinkOptions { Path = _path }))
        {
            await sink.WriteBatchAsync(first, default);
            await sink.WriteBatchAsync(after, default);
        }

        // A crash replay after the restart: everything again, including the ten events that never arrived.
        await using (var sink = await DuckDbSink.OpenAsync(new DuckDbSinkOptions { Path = _path }))
        {
            await sink.WriteBatchAsync([.. first, .. gap, .. after], default);
            Assert.Equal(600, await CountAsync(sink));
            Assert.Equal(1, sink.RememberedRanges);
        }

        Assert.Equal(600, DuckDbTestDb.Scalar(_path, "SELECT count(DISTINCT id) FROM events"));
        Assert.Equal(600, DuckDbTestDb.Scalar(_path, "SELECT count(*) FROM events"));
    }

    [Fact]
    public async Task WriteBatchAsync_FileOffsetsAndIdsWithoutPosition_AreIdempotentToo()
    {
        // File ids number lines by byte offset, so positions have gaps; some ids have no numeric tail at all.
        var file = Enumerable.Range(0, 40).Select(i => new LogEvent($"/var/log/a.log:0:{i * 57}", "file", $"line {i}", TestEvents.Base.AddSeconds(i))).ToList();
        var plain = Enumerable.Range(0, 5).Select(i => new LogEvent($"otlp-{Guid.NewGuid():N}", "otlp", "x", TestEvents.Base)).ToList();
        var duplicateInBatch = new LogEvent("stdin:7", "stdin", "seven", TestEvents.Base);
        await using (var sink = await DuckDbSink.OpenAsync(new DuckDbSinkOptions { Path = _path }))
        {
            await sink.WriteBatchAsync([.. file.Where((_, i) => i % 2 == 0), .. plain, duplicateInBatch, duplicateInBatch], default);
            await sink.WriteBatchAsync(file, default);
        }

        await using (var sink = await DuckDbSink.OpenAsync(new DuckDbSinkOptions { Path = _path }))
        {
            await sink.WriteBatchAsync([.. file, .. plain, duplicateInBatch], default);
            Assert.Equal(46, await CountAsync(sink));
        }
    }

    [Fact]
    public async Task WriteBatchAsync_InOrderRunThenRepeats_StoresEachEventOnce()
    {
        // The sink checks for repeats inside a batch only once the batch leaves "one stream, rising positions": the
        // repeats here come after such a run (the same position again, an earlier one, and one after another stream).
        var run = Stream("tcp:5:1", 0, 10);
        await using var sink = await DuckDbSink.OpenAsync(new DuckDbSinkOptions { Path = _path });
        await sink.WriteBatchAsync([.. run, run[9], run[3]], default);
        Assert.Equal(10, await CountAsync(sink));
        var other = Stream("tcp:5:2", 0, 3);
        var more = Stream("tcp:5:1", 10, 5);
        await sink.WriteBatchAsync([.. more, other[0], more[1], other[0], .. other, more[4]], default);
        Assert.Equal(18, await CountAsync(sink));
        Assert.Equal(2, sink.RememberedRanges);
    }

    [Fact]
    public async Task WriteBatchAsync_ConcurrentStreamsShuffled_StoresExactlyTheDistinctEvents()
    {
        // Stress: 20 streams of 1,000 lines cut into random batches, each batch written twice in random order.
        var random = new Random(1234);
        var all = Enumerable.Range(0, 20).SelectMany(s => Stream($"tcp:9:{s}", 0, 1000)).OrderBy(_ => random.Next()).ToList();
        var batches = all.Chunk(97).SelectMany(b => new[] { b, b }).OrderBy(_ => random.Next()).ToList();
        await using var sink = await DuckDbSink.OpenAsync(new DuckDbSinkOptions { Path = _path });
        foreach (var b in batches)
        {
            await sink.WriteBatchAsync(b, default);
        }

        Assert.Equal(20_000, await CountAsync(sink));
        Assert.Equal(20, sink.RememberedRanges);
    }

    [Fact]
    public async Task WriteDeadLettersAsync_Replayed_StoresOnce()
    {
        var letters = Enumerable.Range(0, 30).Select(i => new DeadLetter($"tcp:1:1:{i}", "tcp", "combined", "no request line", $"garbage {i}", TestEvents.Base)).ToList();
        await using (var sink = await DuckDbSink.OpenAsync(new DuckDbSinkOptions { Path = _path }))
        {
            await sink.WriteDeadLettersAsync(letters.Skip(10).ToList(), default);
            await sink.WriteDeadLettersAsync(letters, default);
        }

        await using (var sink = await DuckDbSink.OpenAsync(new DuckDbSinkOptions { Path = _path }))
        {
            await sink.WriteDeadLettersAsync(letters, default);
        }

        Assert.Equal(30, DuckDbTestDb.Scalar(_path, "SELECT count(*) FROM dead_letters"));
    }

    [Fact]
    public async Task WriteBatchAsync_TraceFieldsAndTypedColumns_AreStoredAndReadBack()
    {
        var e = TestEvents.Access("tr", 1);
        e.TraceId = "4bf92f3577b34da6a3ce929d0e0e4736";
        e.SpanId = "00f067aa0ba902b7";
        e.TraceFlags = 1;
        e.EventName = "http.request";
        e.Attributes.Set(SemanticNames.UserAgentOriginal, 42L);
        await using var sink = await DuckDbSink.OpenAsync(new DuckDbSinkOptions { Path = _path });
        await sink.WriteBatchAsync([e], default);
        await using var store = sink.OpenStore();
        var back = (await store.SearchAsync(new LogQuery("status = 200 AND method = GET"))).Events.Single();
        Assert.Equal((e.TraceId, e.SpanId, e.TraceFlags, e.EventName), (back.TraceId, back.SpanId, back.TraceFlags, back.EventName));
        static string[] Typed(LogEvent x) => [.. x.Attributes.Select(a => $"{a.Key}={a.Value} ({a.Value?.GetType().Name})").Order(StringComparer.Ordinal)];
        Assert.Equal(Typed(e), Typed(back));
    }

    [Fact]
    public async Task OpenAsync_NotADuckDbFile_FailsWithPathAndReason()
    {
        await File.WriteAllTextAsync(_path, new string('x', 8192));
        var e = await Assert.ThrowsAsync<SinkException>(() => DuckDbSink.OpenAsync(new DuckDbSinkOptions { Path = _path }));
        Assert.False(e.IsTransient);
        Assert.Contains(Path.GetFullPath(_path), e.Message, StringComparison.Ordinal);
        Assert.Contains("not a valid DuckDB database", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OpenAsync_NewerSchemaVersion_RefusesWithClearMessage()
    {
        await using (await DuckDbSink.OpenAsync(new DuckDbSinkOptions { Path = _path }))
        {
        }

        using (var c = new DuckDBConnection("DataSource=" + Path.GetFullPath(_path)))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "UPDATE conveyor_schema SET version = 999";
            cmd.ExecuteNonQuery();
        }

        var e = await Assert.ThrowsAsync<SinkException>(() => DuckDbSink.OpenAsync(new DuckDbSinkOptions { Path = _path }));
        Assert.Contains("newer", e.Message, StringComparison.Ordinal);
    }

    /// <summary>Column compressions of events.body and events.attributes in the closed file, e.g. "FSST,ZSTD".</summary>
    private string TextCompression()
    {
        using var c = DuckDbSink.NewConnection(Path.GetFullPath(_path), 64L << 20, 1, readOnly: true);
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT string_agg(DISTINCT compression, ',' ORDER BY compression) FROM pragma_storage_info('events') WHERE column_name IN ('body', 'attributes') AND compression <> 'Constant'";
        return (string)cmd.ExecuteScalar()!;
    }

    /// <summary>A digest of every event row in file order, to prove a migration kept rows, values and order.</summary>
    private long RowsDigest() => DuckDbTestDb.Scalar(_path, "SELECT hash(string_agg(concat_ws('|', id, ts, body, attributes, status, url), chr(10) ORDER BY rowid)) % 1000000007 FROM events");

    /// <summary>A file as schema version 1 left it, holding <paramref name="count"/> access-log events.</summary>
    private static async Task WriteVersion1FileAsync(string connectionString, int count)
    {
        // Rows as version 1 stored them, by plain SQL: the sink would migrate the file before writing.
        using var w = new DuckDBConnection(connectionString);
        w.Open();
        DuckDbSchema.Migrate(w, 1);
        using var cmd = w.CreateCommand();
        cmd.CommandText = $$"""
            INSERT INTO events SELECT TIMESTAMP '2026-11-20 10:00:00' + INTERVAL (i) SECOND, 0, TIMESTAMP '2026-11-20 10:00:00' + INTERVAL (i) SECOND, 0, 9, 'INFO',
                200 + (i % 3) * 100, 'GET', '10.0.0.' || (i % 7), '/api/items/' || i, 'curl/8.5', 'web', 'web:' || i,
                '10.0.0.' || (i % 7) || ' - - "GET /api/items/' || i || ' HTTP/1.1" ' || (200 + (i % 3) * 100) || ' 512 "-" "curl/8.5"',
                NULL, NULL, NULL, NULL, '{"http.response.body.size":512,"user.name":"u' || (i % 11) || '"}', NULL
            FROM range({{count}}) t(i)
            """;
        await cmd.ExecuteNonQueryAsync();
    }

    [Fact]
    public async Task OpenAsync_NewFile_StoresBodyAndAttributesWithZstd()
    {
        await using (var sink = await DuckDbSink.OpenAsync(new DuckDbSinkOptions { Path = _path }))
        {
            await sink.WriteBatchAsync(TestEvents.Batch("z", 5000), default);
        }

        Assert.Equal(DuckDbSchema.CurrentVersion, DuckDbTestDb.Scalar(_path, "SELECT max(version) FROM conveyor_schema"));
        Assert.Equal("ZSTD", TextCompression());
        await using var store = LogStore.Open("duckdb:" + _path);
        Assert.Equal(5000, await store.CountAsync(new LogQuery("GET")));
    }

    [Fact]
    public async Task OpenAsync_Version1FileInZstdCapableFormat_IsRebuiltWithEveryRowInOrder()
    {
        // The file opened directly, in the format the sink creates files in.
        var connectionString = "DataSource=" + Path.GetFullPath(_path) + ";storage_compatibility_version=" + DuckDbSchema.StorageVersion;
        await WriteVersion1FileAsync(connectionString, 3000);
        var before = RowsDigest();
        await using (var sink = await DuckDbSink.OpenAsync(new DuckDbSinkOptions { Path = _path }))
        {
            await sink.WriteBatchAsync([TestEvents.Access("after", 1)], default);
        }

        Assert.Equal(DuckDbSchema.CurrentVersion, DuckDbTestDb.Scalar(_path, "SELECT max(version) FROM conveyor_schema"));
        Assert.Equal("ZSTD", TextCompression());
        Assert.Equal(3001, DuckDbTestDb.Scalar(_path, "SELECT count(*) FROM events"));
        Assert.Equal(before, DuckDbTestDb.Scalar(_path, "SELECT hash(string_agg(concat_ws('|', id, ts, body, attributes, status, url), chr(10) ORDER BY rowid)) % 1000000007 FROM (SELECT rowid, * FROM events WHERE id LIKE 'web:%')"));
        await using var store = LogStore.Open("duckdb:" + _path);
        var back = (await store.SearchAsync(new LogQuery("user.name = u3 AND status = 300", Limit: 1))).Events.Single();
        Assert.Equal("web:2995", back.Id);
        Assert.Equal(512L, back.Attributes.TryGetInt64(SemanticNames.HttpResponseBodySize, out var size) ? size : -1);
    }

    [Fact]
    public async Task OpenAsync_Version1FileInOldFormat_MigratesWithoutAColumnItCannotCompress()
    {
        // DuckDB's default format (v1.0.0) cannot hold ZSTD: a hinted column there would be stored uncompressed.
        var connectionString = "DataSource=" + Path.GetFullPath(_path);
        await WriteVersion1FileAsync(connectionString, 3000);
        var before = RowsDigest();
        await using (await DuckDbSink.OpenAsync(new DuckDbSinkOptions { Path = _path }))
        {
        }

        Assert.Equal(DuckDbSchema.CurrentVersion, DuckDbTestDb.Scalar(_path, "SELECT max(version) FROM conveyor_schema"));
        Assert.Equal(before, RowsDigest());
        // A ZSTD hint there leaves every segment of the two columns Uncompressed; DuckDB may still choose Uncompressed
        // for one segment of its own accord ("Dictionary,Uncompressed" in a fresh-clone CI run), which is not that.
        Assert.NotEqual("Uncompressed", TextCompression());
        Assert.DoesNotContain("ZSTD", TextCompression(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task OpenAsync_FolderCannotBeCreated_FailsWithPath()
    {
        // A file where the folder should be fails the open for every user (root ignores a read-only folder).
        var blocked = Path.Combine(TestEvents.TempFolder(), "file");
        await File.WriteAllTextAsync(blocked, "x");
        var path = Path.Combine(blocked, "c.duckdb");
        var e = await Assert.ThrowsAsync<SinkException>(() => DuckDbSink.OpenAsync(new DuckDbSinkOptions { Path = path }));
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.False(e.IsTransient);
    }

    [Fact]
    public async Task ApplyRetentionAsync_MaxAge_DeletesOlderEventsOnly()
    {
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(TestEvents.Base.AddHours(2));
        await using var sink = await DuckDbSink.OpenAsync(new DuckDbSinkOptions { Path = _path, RetentionMaxAge = TimeSpan.FromHours(1) }, clock);
        await sink.WriteBatchAsync(TestEvents.Batch("old", 10), default);
        await sink.WriteBatchAsync(Enumerable.Range(0, 5).Select(i => TestEvents.Access("new", i, TestEvents.Base.AddMinutes(90))).ToList(), default);
        var result = await sink.ApplyRetentionAsync();
        Assert.Equal(10, result.Events);
        Assert.Equal(5, await CountAsync(sink));
    }
}
