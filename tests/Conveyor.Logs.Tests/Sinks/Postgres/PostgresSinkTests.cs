using Conveyor.Logs.Model;
using Conveyor.Logs.Sinks;
using Conveyor.Logs.Sinks.Postgres;
using Conveyor.Logs.Tests.Support;

namespace Conveyor.Logs.Tests.Sinks.Postgres;

public sealed class PostgresSinkContractTests : SinkContractTests
{
    private string _cs = string.Empty;

    public override async Task InitializeAsync() => _cs = await PostgresTestServer.CreateSchemaAsync();

    protected override async Task<ILogSink> OpenSinkAsync() => await PostgresSink.OpenAsync(new PostgresSinkOptions { ConnectionString = _cs });

    protected override Task<long> CountStoredAsync() => PostgresTestServer.ScalarAsync(_cs, "SELECT count(*) FROM events");

    protected override Task<long> CountDeadLettersAsync() => PostgresTestServer.ScalarAsync(_cs, "SELECT count(*) FROM dead_letters");

    /// <summary>PostgreSQL text cannot hold a NUL byte: the server refuses it with 22021.</summary>
    protected override LogEvent Poison(string id) => new(id, "web", "bad \0 byte", TestEvents.Base) { Timestamp = TestEvents.Base };
}

public sealed class PostgresSinkTests
{
    [Fact]
    public async Task WriteBatchAsync_EventsOnSeveralDays_CreatesDayPartitionsAhead()
    {
        var cs = await PostgresTestServer.CreateSchemaAsync();
        await using (var sink = await PostgresSink.OpenAsync(new PostgresSinkOptions { ConnectionString = cs, PartitionDaysAhead = 2 }))
        {
            Assert.True(sink.HasTrigramIndex);
            var events = Enumerable.Range(0, 30).Select(i => TestEvents.Access("p", i, TestEvents.Base.AddHours(i * 5))).ToList();
            await sink.WriteBatchAsync(events, default);
        }

        Assert.Equal(30, await PostgresTestServer.ScalarAsync(cs, "SELECT count(*) FROM events"));
        // 30 events 5 h apart span 7 UTC days (Nov 20–26), plus 2 days ahead.
        Assert.Equal(9, await PostgresTestServer.ScalarAsync(cs, "SELECT count(*) FROM pg_inherits WHERE inhparent = 'events'::regclass"));
    }

    [Fact]
    public async Task WriteBatchAsync_BatchOverlappingStoredEventsAndItself_StoresEachIdOnce()
    {
        var cs = await PostgresTestServer.CreateSchemaAsync();
        await using (var sink = await PostgresSink.OpenAsync(new PostgresSinkOptions { ConnectionString = cs }))
        {
            await sink.WriteBatchAsync(TestEvents.Batch("v", 50), default);
            var overlapping = TestEvents.Batch("v", 100, 25);
            overlapping.AddRange(TestEvents.Batch("v", 10, 120));
            // ids 0–49 stored; the batch holds 25–124 plus 120–129 again: 0–129 must end up stored once each.
            await sink.WriteBatchAsync(overlapping, default);
        }

        Assert.Equal(130, await PostgresTestServer.ScalarAsync(cs, "SELECT count(*) FROM events"));
        Assert.Equal(130, await PostgresTestServer.ScalarAsync(cs, "SELECT count(DISTINCT id) FROM events"));
    }

    [Fact]
    public async Task ApplyRetentionAsync_RetentionDays_DropsOldPartitionsOnly()
    {
        var cs = await PostgresTestServer.CreateSchemaAsync();
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(TestEvents.Base.AddDays(10));
        await using var sink = await PostgresSink.OpenAsync(new PostgresSinkOptions { ConnectionString = cs, RetentionDays = 3, PartitionDaysAhead = 0 }, clock);
        var events = Enumerable.Range(0, 10).Select(i => TestEvents.Access("r", i, TestEvents.Base.AddDays(i))).ToList();
        await sink.WriteBatchAsync(events, default);
        await sink.WriteDeadLettersAsync([new DeadLetter("old", "s", "p", "r", "x", TestEvents.Base), new DeadLetter("new", "s", "p", "r", "x", clock.GetUtcNow())], default);

        var result = await sink.ApplyRetentionAsync();

        // Now is Nov 30; the first day kept is Nov 27, so Nov 20–26 (7 partitions) go.
        Assert.Equal(7, result.Partitions);
        Assert.Equal(1, result.DeadLetters);
        Assert.Equal(3, await PostgresTestServer.ScalarAsync(cs, "SELECT count(*) FROM events"));
        await sink.WriteBatchAsync(events, default);
        Assert.Equal(10, await PostgresTestServer.ScalarAsync(cs, "SELECT count(*) FROM events"));
    }

    [Fact]
    public async Task ApplyRetentionAsync_ClosedDays_GetQueryIndexesAndTheLiveDayDoesNot()
    {
        var cs = await PostgresTestServer.CreateSchemaAsync();
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(TestEvents.Base.AddDays(2).AddHours(2));
        await using var sink = await PostgresSink.OpenAsync(new PostgresSinkOptions { ConnectionString = cs, PartitionDaysAhead = 0 }, clock);
        var events = Enumerable.Range(0, 30).Select(i => TestEvents.Access("s", i, TestEvents.Base.AddHours(i * 2))).ToList();
        await sink.WriteBatchAsync(events, default);
        const string Indexes = "SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() AND tablename = '{0}' AND indexname ~ '_(status_ts|severity_ts|client_ts|body_trgm)$'";

        // Nothing but the key and BRIN on the day being written.
        Assert.Equal(0, await PostgresTestServer.ScalarAsync(cs, string.Format(System.Globalization.CultureInfo.InvariantCulture, Indexes, "events_p20261120")));
        await sink.ApplyRetentionAsync();
        await sink.ApplyRetentionAsync();

        // Nov 20 and 21 have closed (more than an hour ago); Nov 22 is today.
        Assert.Equal([new DateOnly(2026, 11, 20), new DateOnly(2026, 11, 21)], await sink.SealedDaysAsync());
        Assert.Equal(4, await PostgresTestServer.ScalarAsync(cs, string.Format(System.Globalization.CultureInfo.InvariantCulture, Indexes, "events_p20261120")));
        Assert.Equal(1, await PostgresTestServer.ScalarAsync(cs, "SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() AND indexname = 'events_p20261121_body_trgm'"));
        Assert.Equal(0, await PostgresTestServer.ScalarAsync(cs, string.Format(System.Globalization.CultureInfo.InvariantCulture, Indexes, "events_p20261122")));
        Assert.Equal(0, await PostgresTestServer.ScalarAsync(cs, "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND NOT i.indisvalid"));

        // A late event for a sealed day and a replay of everything still store each event once.
        await sink.WriteBatchAsync([.. events, TestEvents.Access("s", 99, TestEvents.Base.AddHours(3))], default);
        Assert.Equal(31, await PostgresTestServer.ScalarAsync(cs, "SELECT count(DISTINCT id) FROM events"));
        Assert.Equal(31, await PostgresTestServer.ScalarAsync(cs, "SELECT count(*) FROM events"));
    }

    [Fact]
    public async Task ApplyRetentionAsync_IndexBuildOutlastsTheCommandTimeout_StillSealsTheDay()
    {
        // A command timeout of 1 s, and a writer's open transaction on the closed day that the concurrent index
        // build must wait for, held until the build has waited 2 s: longer than any command may take.
        var cs = new Npgsql.NpgsqlConnectionStringBuilder(await PostgresTestServer.CreateSchemaAsync()) { CommandTimeout = 1 }.ConnectionString;
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(TestEvents.Base.AddDays(2).AddHours(2));
        await using var sink = await PostgresSink.OpenAsync(new PostgresSinkOptions { ConnectionString = cs, PartitionDaysAhead = 0 }, clock);
        await sink.WriteBatchAsync(TestEvents.Batch("t", 50), default);

        await using var writer = new Npgsql.NpgsqlConnection(cs);
        await writer.OpenAsync();
        var open = await writer.BeginTransactionAsync();
        await using (var lockDay = new Npgsql.NpgsqlCommand("LOCK TABLE events_p20261120 IN ROW EXCLUSIVE MODE", writer, open))
        {
            await lockDay.ExecuteNonQueryAsync();
        }

        var sealing = sink.ApplyRetentionAsync();
        await TestEvents.WaitUntilAsync(
            async () => sealing.IsCompleted || await PostgresTestServer.ScalarAsync(
                cs,
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'CREATE INDEX CONCURRENTLY%events_p20261120%' AND wait_event_type = 'Lock' AND now() - query_start > interval '2 seconds'") > 0,
            TimeSpan.FromSeconds(30),
            "the index build waiting past the command timeout");
        await open.RollbackAsync();
        await sealing;

        Assert.Equal([new DateOnly(2026, 11, 20)], await sink.SealedDaysAsync());
        Assert.Equal(0, await PostgresTestServer.ScalarAsync(cs, "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND NOT i.indisvalid"));
        Assert.Equal(1, await PostgresTestServer.ScalarAsync(cs, "SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() AND indexname = 'events_p20261120_status_ts'"));
    }

    [Fact]
    public async Task WriteBatchAsync_ReplayOverSeveralCopyStreams_StoresEachEventOnce()
    {
        var cs = await PostgresTestServer.CreateSchemaAsync();
        var batch = TestEvents.Batch("m", 3000);
        await using (var sink = await PostgresSink.OpenAsync(new PostgresSinkOptions { ConnectionString = cs, CopyStreams = 4 }))
        {
            await sink.WriteBatchAsync(batch, default);

            // The whole batch again (every stream meets duplicates), then a part of it shifted across the stream
            // boundaries together with new events (some streams duplicate, some not).
            await sink.WriteBatchAsync(batch, default);
            await sink.WriteBatchAsync(TestEvents.Batch("m", 2000, 2000), default);
        }

        Assert.Equal(4000, await PostgresTestServer.ScalarAsync(cs, "SELECT count(*) FROM events"));
        Assert.Equal(4000, await PostgresTestServer.ScalarAsync(cs, "SELECT count(DISTINCT id) FROM events"));
    }

    [Fact]
    public async Task WritePreparedAsync_TwoAtOnce_OneBlockedDoesNotHoldTheOther()
    {
        // The lane runs CopyStreams prepared writes at once, each its own COPY: a write stuck on its day's partition
        // (here a lock another session holds) must not keep the other write, into another day, waiting.
        var cs = await PostgresTestServer.CreateSchemaAsync();
        var dayTwo = TestEvents.Base.AddDays(1);
        await using var sink = await PostgresSink.OpenAsync(new PostgresSinkOptions { ConnectionString = cs, CopyStreams = 2, PartitionDaysAhead = 0 });
        await sink.WriteBatchAsync([TestEvents.Access("w", 0), TestEvents.Access("w", 1, dayTwo)], default);

        await using var other = new Npgsql.NpgsqlConnection(cs);
        await other.OpenAsync();
        await using var hold = await other.BeginTransactionAsync();
        await using (var lockDay = new Npgsql.NpgsqlCommand("LOCK TABLE events_p20261120 IN ACCESS EXCLUSIVE MODE", other, hold))
        {
            await lockDay.ExecuteNonQueryAsync();
        }

        ILogSink lane = sink;
        var first = await lane.PrepareBatchAsync(Enumerable.Range(0, 100).Select(i => TestEvents.Access("a", i)).ToList(), default);
        var second = await lane.PrepareBatchAsync(Enumerable.Range(0, 100).Select(i => TestEvents.Access("b", i, dayTwo.AddSeconds(i))).ToList(), default);
        var blocked = lane.WritePreparedAsync(first, default).AsTask();
        await TestEvents.WaitUntilAsync(
            async () => await PostgresTestServer.ScalarAsync(cs, "SELECT count(*) FROM pg_locks WHERE relation = 'events_p20261120'::regclass AND NOT granted") > 0,
            TimeSpan.FromSeconds(30),
            "the first write to wait for the locked day");
        await lane.WritePreparedAsync(second, default).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.False(blocked.IsCompleted);
        Assert.Equal(101, await PostgresTestServer.ScalarAsync(cs, "SELECT count(*) FROM events_p20261121"));

        await hold.RollbackAsync();
        await blocked.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(202, await PostgresTestServer.ScalarAsync(cs, "SELECT count(*) FROM events"));
    }

    [Fact]
    public async Task SinkLane_ConcurrentWritesWithAReplayRacingItsOriginal_StoresEachEventOnce()
    {
        // 5,000 events, 2,000 of them again (new objects, same ids), 3,000 new: 40 batches of 250 over 2 writes at
        // once, so a replayed batch can be written beside its original; duplicates go through the staged path (or a
        // deadlock between the two is retried), and every event is stored once.
        var cs = await PostgresTestServer.CreateSchemaAsync();
        var offered = TestEvents.Batch("c", 5_000);
        offered.AddRange(TestEvents.Batch("c", 2_000, 1_000));
        offered.AddRange(TestEvents.Batch("c", 3_000, 5_000));
        await using (var sink = new ResilientSink(await PostgresSink.OpenAsync(new PostgresSinkOptions { ConnectionString = cs, CopyStreams = 2 })))
        {
            var report = await SinkLaneHarness.WriteAsync(sink, offered, SinkLaneHarness.QuickRetry(maxAttempts: 10), batchMaxItems: 250);
            Assert.Equal((10_000L, 0L, 0L, 0L, 0L), (report.StoredEvents, report.Rejected, report.StoredDeadLetters, report.DroppedAtQueue, report.Failed));
        }

        Assert.Equal(8_000, await PostgresTestServer.ScalarAsync(cs, "SELECT count(*) FROM events"));
        Assert.Equal(8_000, await PostgresTestServer.ScalarAsync(cs, "SELECT count(DISTINCT id) FROM events"));
    }

    [Fact]
    public async Task ApplyRetentionAsync_MaxBytes_DropsOldestDaysButNeverTheNewest()
    {
        var cs = await PostgresTestServer.CreateSchemaAsync();
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(TestEvents.Base.AddDays(4).AddHours(12));
        await using var sink = await PostgresSink.OpenAsync(new PostgresSinkOptions { ConnectionString = cs, PartitionDaysAhead = 0, RetentionMaxBytes = 1 << 20 }, clock);
        for (var day = 0; day < 5; day++)
        {
            await sink.WriteBatchAsync(Enumerable.Range(0, 2000).Select(i => TestEvents.Access($"d{day}", i, TestEvents.Base.AddDays(day).AddSeconds(i * 10))).ToList(), default);
        }

        var result = await sink.ApplyRetentionAsync();

        Assert.InRange(result.Partitions, 1, 4);
        Assert.Equal(2000, await PostgresTestServer.ScalarAsync(cs, "SELECT count(*) FROM events WHERE id LIKE 'd4-%'"));
        Assert.Equal(0, await PostgresTestServer.ScalarAsync(cs, "SELECT count(*) FROM events WHERE id LIKE 'd0-%'"));
        var left = await PostgresTestServer.ScalarAsync(cs, "SELECT count(*) FROM pg_inherits WHERE inhparent = 'events'::regclass");
        Assert.Equal(5 - result.Partitions, left);
        var bytes = await PostgresTestServer.ScalarAsync(cs, "SELECT coalesce(sum(pg_total_relation_size(inhrelid)), 0) FROM pg_inherits WHERE inhparent = 'events'::regclass");
        Assert.True(bytes <= 1 << 20 || left == 1, $"{bytes} bytes in {left} partitions");
    }

    [Fact]
    public async Task WriteBatchAsync_HotAttributes_StoredInTheirColumnsOnlyAndReadBackWhole()
    {
        var cs = await PostgresTestServer.CreateSchemaAsync();
        var events = TestEvents.Batch("h", 20);
        events[3].Attributes.Set(SemanticNames.UserAgentOriginal, "curl/8.5.0");
        // A status the integer column cannot read back as it was (text) stays in the JSON as well.
        events[7].Attributes.Set(SemanticNames.HttpResponseStatusCode, "503");
        await using (var sink = await PostgresSink.OpenAsync(new PostgresSinkOptions { ConnectionString = cs }))
        {
            await sink.WriteBatchAsync(events, default);
        }

        Assert.Equal(0, await PostgresTestServer.ScalarAsync(cs, "SELECT count(*) FROM events WHERE attributes ?| array['client.address', 'http.request.method', 'url.original', 'user_agent.original']"));
        Assert.Equal(1, await PostgresTestServer.ScalarAsync(cs, "SELECT count(*) FROM events WHERE attributes ? 'http.response.status_code'"));
        Assert.Equal(20, await PostgresTestServer.ScalarAsync(cs, "SELECT count(*) FROM events WHERE attributes ? 'http.response.body.size' AND url IS NOT NULL"));
        Assert.Equal(503, await PostgresTestServer.ScalarAsync(cs, "SELECT status FROM events WHERE id = 'h-000007'"));

        // A row written before the hot attributes left the JSON holds them in both places, and reads back the same.
        await PostgresTestServer.ScalarAsync(
            cs,
            """
            WITH i AS (INSERT INTO events (id, ts, ts_offset, observed_ts, observed_offset, severity_number, severity_text, status, method, client, url, source, body, attributes)
                VALUES ('h-old', '2026-11-20 09:00:00+00', 0, '2026-11-20 09:00:00+00', 0, 9, 'INFO', 200, 'GET', '10.0.0.9', '/old', 'web', 'old row',
                        '{"client.address": "10.0.0.9", "http.request.method": "GET", "url.original": "/old", "http.response.status_code": 200}')
                RETURNING 1)
            SELECT count(*) FROM i
            """);

        await using var store = Conveyor.Logs.Query.LogStore.Open("postgres:" + cs);
        var read = (await store.SearchAsync(new Conveyor.Logs.Query.LogQuery(null, Limit: 100))).Events.ToDictionary(e => e.Id);
        Assert.Equal(21, read.Count);
        foreach (var e in events)
        {
            Assert.Equal(e.Attributes.OrderBy(a => a.Key), read[e.Id].Attributes.OrderBy(a => a.Key));
        }

        Assert.Equal(
            new Dictionary<string, object?> { ["client.address"] = "10.0.0.9", ["http.request.method"] = "GET", ["url.original"] = "/old", ["http.response.status_code"] = 200L },
            read["h-old"].Attributes.ToDictionary(a => a.Key, a => a.Value));
        Assert.Equal(1, await store.CountAsync(new Conveyor.Logs.Query.LogQuery("ua ~ curl")));
        Assert.Equal(1, await store.CountAsync(new Conveyor.Logs.Query.LogQuery("url.original = \"/old\"")));
        Assert.Equal(19, await store.CountAsync(new Conveyor.Logs.Query.LogQuery("status = 200 AND NOT id = h-old")));
    }

    [Fact]
    public async Task WriteBatchAsync_TraceContext_ReadsBackAndIsSearchable()
    {
        var cs = await PostgresTestServer.CreateSchemaAsync();
        await TraceContextCheck.WriteAndFindAsync(await PostgresSink.OpenAsync(new PostgresSinkOptions { ConnectionString = cs }), () => Conveyor.Logs.Query.LogStore.Open("postgres:" + cs));
    }

    [Fact]
    public async Task OpenAsync_VersionOneSchemaWithRows_MigratesKeepingThemAndTheirIdempotency()
    {
        var cs = await PostgresTestServer.CreateSchemaAsync();
        await using (var c = new Npgsql.NpgsqlConnection(cs))
        {
            // The schema as version 1 left it, with one stored event.
            await c.OpenAsync();
            await using var cmd = new Npgsql.NpgsqlCommand(
                """
                CREATE TABLE conveyor_schema (version integer NOT NULL); INSERT INTO conveyor_schema VALUES (1);
                CREATE TABLE events (id text NOT NULL, ts timestamptz NOT NULL, ts_offset integer, observed_ts timestamptz NOT NULL,
                    observed_offset integer NOT NULL, severity_number integer NOT NULL, severity_text text, status integer, method text,
                    client text, url text, user_agent text, source text NOT NULL, body text NOT NULL, attributes jsonb NOT NULL,
                    resource jsonb, PRIMARY KEY (id, ts)) PARTITION BY RANGE (ts);
                CREATE INDEX events_ts ON events (ts);
                CREATE INDEX events_status_ts ON events (status, ts);
                CREATE TABLE events_p20261120 PARTITION OF events FOR VALUES FROM ('2026-11-20 00:00:00+00') TO ('2026-11-21 00:00:00+00');
                INSERT INTO events VALUES ('v-000001', '2026-11-20 10:00:01+00', 0, '2026-11-20 10:00:01+00', 0, 9, 'INFO', 200, 'GET', '10.0.0.1', '/item/1', NULL, 'web', 'old row', '{}', NULL);
                CREATE TABLE dead_letters (id text PRIMARY KEY, time timestamptz NOT NULL, source text NOT NULL, parser text NOT NULL, reason text NOT NULL, raw_line text NOT NULL);
                """,
                c);
            await cmd.ExecuteNonQueryAsync();
        }

        await using (var sink = await PostgresSink.OpenAsync(new PostgresSinkOptions { ConnectionString = cs }))
        {
            await sink.WriteBatchAsync(TestEvents.Batch("v", 3), default);
        }

        Assert.Equal(PostgresSchema.CurrentVersion, await PostgresTestServer.ScalarAsync(cs, "SELECT max(version) FROM conveyor_schema"));
        Assert.Equal(3, await PostgresTestServer.ScalarAsync(cs, "SELECT count(*) FROM events"));
        Assert.Equal(1, await PostgresTestServer.ScalarAsync(cs, "SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() AND indexname = 'events_ts_brin'"));

        // Version 3: ids compare byte by byte, on the old day's partition as on the parent.
        Assert.Equal(2, await PostgresTestServer.ScalarAsync(
            cs,
            "SELECT count(*) FROM information_schema.columns WHERE table_schema = current_schema() AND table_name IN ('events', 'events_p20261120') AND column_name = 'id' AND collation_name = 'C'"));
    }

    [Fact]
    public void Classify_ServerShutdownAndNul_AreTransientAndPermanent()
    {
        var shutdown = new Npgsql.PostgresException("terminating connection due to administrator command", "FATAL", "FATAL", "57P01");
        var nul = new Npgsql.PostgresException("invalid byte sequence", "ERROR", "ERROR", "22021");
        var tooMany = new Npgsql.PostgresException("too many clients", "FATAL", "FATAL", "53300");
        Assert.True(PostgresSink.Classify(shutdown)!.IsTransient);
        Assert.True(PostgresSink.Classify(tooMany)!.IsTransient);
        Assert.False(PostgresSink.Classify(nul)!.IsTransient);
        Assert.True(PostgresSink.Classify(new System.Net.Sockets.SocketException(111))!.IsTransient);
    }

    [Fact]
    public async Task OpenAsync_NoConnectionString_NamesTheKey()
    {
        var e = await Assert.ThrowsAsync<ArgumentException>(() => PostgresSink.OpenAsync(new PostgresSinkOptions()));
        Assert.Equal("ConnectionString", e.ParamName);
    }
}
