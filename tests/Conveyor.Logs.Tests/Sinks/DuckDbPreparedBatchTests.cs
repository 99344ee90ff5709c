using System.Text;
using Conveyor.Logs.Model;
using Conveyor.Logs.Query;
using Conveyor.Logs.Sinks;
using Conveyor.Logs.Sinks.DuckDb;
using Conveyor.Logs.Tests.Support;

namespace Conveyor.Logs.Tests.Sinks;

/// <summary>
/// The DuckDB write in two steps (<see cref="DuckDbSink.PrepareBatchAsync"/> on the lane's two workers, then the one
/// serialised write): batch order, accounting and idempotence hold, and the prepared body filter is the one the
/// decoded text gives.
/// </summary>
public sealed class DuckDbPreparedBatchTests
{
    private readonly string _path = Path.Combine(TestEvents.TempFolder(), "prepared.duckdb");

    private static List<LogEvent> Stream(string stream, int from, int count) =>
        Enumerable.Range(from, count).Select(i => new LogEvent($"{stream}:{i}", "tcp", Encoding.UTF8.GetBytes($"line {i} of {stream}"), TestEvents.Base.AddMilliseconds(i))).ToList();

    /// <summary>Forwards the two steps and fails every third write transiently before it reaches the store.</summary>
    private sealed class EveryThirdWriteFails(ILogSink inner) : ILogSink
    {
        private int _writes;

        public string Name => inner.Name;

        public bool PreparesBatches => inner.PreparesBatches;

        public ValueTask<PreparedBatch> PrepareBatchAsync(IReadOnlyList<LogEvent> batch, CancellationToken cancellationToken) => inner.PrepareBatchAsync(batch, cancellationToken);

        public ValueTask WritePreparedAsync(PreparedBatch batch, CancellationToken cancellationToken) =>
            Interlocked.Increment(ref _writes) % 3 == 0
                ? ValueTask.FromException(new SinkException("injected", isTransient: true))
                : inner.WritePreparedAsync(batch, cancellationToken);

        public ValueTask WriteBatchAsync(IReadOnlyList<LogEvent> batch, CancellationToken cancellationToken) => throw new InvalidOperationException("the lane writes prepared batches");

        public ValueTask WriteDeadLettersAsync(IReadOnlyList<DeadLetter> batch, CancellationToken cancellationToken) => inner.WriteDeadLettersAsync(batch, cancellationToken);

        public ValueTask<SinkHealth> CheckHealthAsync(CancellationToken cancellationToken) => inner.CheckHealthAsync(cancellationToken);

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }

    [Fact]
    public async Task SinkLane_PreparedOnTwoWorkersWithRetriesAndAReplay_StoresEveryEventOnceInTakeOrder()
    {
        // 5,000 events, a replay of 2,000 of them (new objects, same ids), then 3,000 new: 40 batches of 250.
        var offered = Stream("tcp:1", 0, 5_000);
        offered.AddRange(Stream("tcp:1", 1_000, 2_000));
        offered.AddRange(Stream("tcp:1", 5_000, 3_000));
        await using (var sink = new ResilientSink(new EveryThirdWriteFails(await DuckDbSink.OpenAsync(new DuckDbSinkOptions { Path = _path }))))
        {
            Assert.True(sink.PreparesBatches);
            var report = await SinkLaneHarness.WriteAsync(sink, offered, SinkLaneHarness.QuickRetry(maxAttempts: 10), batchMaxItems: 250);

            // sent = stored + dead-lettered + dropped + failed (the harness checks every record completes once):
            // a replayed event is stored (it is in the store), not dropped.
            Assert.Equal((10_000L, 0L, 0L, 0L, 0L), (report.StoredEvents, report.Rejected, report.StoredDeadLetters, report.DroppedAtQueue, report.Failed));
        }

        Assert.Equal(8_000, DuckDbTestDb.Scalar(_path, "SELECT count(*) FROM events"));
        Assert.Equal(8_000, DuckDbTestDb.Scalar(_path, "SELECT count(DISTINCT id) FROM events"));

        // Rows are in the order the batches were taken: the row number of tcp:1:N is N.
        Assert.Equal(0, DuckDbTestDb.Scalar(_path, "SELECT count(*) FROM (SELECT id, row_number() OVER (ORDER BY rowid) - 1 AS n FROM events) WHERE id <> 'tcp:1:' || n"));
        Assert.Equal(0, DuckDbTestDb.Scalar(_path, "SELECT count(*) FROM (SELECT ts, lag(ts) OVER (ORDER BY rowid) AS before FROM events) WHERE ts < before"));

        // One filter block per batch that stored rows, covering exactly those rows.
        Assert.Equal(8_000, DuckDbTestDb.Scalar(_path, "SELECT sum(row_count)::BIGINT FROM body_filters"));
    }

    [Fact]
    public async Task WritePreparedAsync_SameBatchTwice_Throws()
    {
        await using var sink = await DuckDbSink.OpenAsync(new DuckDbSinkOptions { Path = _path });
        var prepared = await sink.PrepareBatchAsync(Stream("tcp:2", 0, 10), default);
        await sink.WritePreparedAsync(prepared, default);
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await sink.WritePreparedAsync(prepared, default));
        Assert.Equal(10, await (sink.OpenStore()).CountAsync(new LogQuery(null)));
    }

    [Fact]
    public async Task WriteBatchAsync_PartlyReplayedBatch_FilterCoversOnlyTheRowsItAppends()
    {
        await using (var sink = await DuckDbSink.OpenAsync(new DuckDbSinkOptions { Path = _path }))
        {
            var first = Stream("tcp:3", 0, 100);
            first.Add(new LogEvent("tcp:3:100", "tcp", "Walrus one", TestEvents.Base.AddHours(1)));
            await sink.WriteBatchAsync(first, default);

            // The replayed walrus is skipped, so the second block must not claim it (nor its time): a search keeps one block, skips one.
            var second = Stream("tcp:3", 101, 50);
            second.Insert(0, new LogEvent("tcp:3:100", "tcp", "Walrus one", TestEvents.Base.AddHours(1)));
            await sink.WriteBatchAsync(second, default);
        }

        Assert.Equal(151, DuckDbTestDb.Scalar(_path, "SELECT count(*) FROM events"));
        Assert.Equal(50, DuckDbTestDb.Scalar(_path, "SELECT row_count FROM body_filters ORDER BY ts_lo DESC LIMIT 1"));
        Assert.Equal(0, DuckDbTestDb.Scalar(_path, "SELECT count(*) FROM body_filters WHERE row_count = 50 AND ts_hi >= TIMESTAMP '2026-11-20 11:00:00'"));
        await using var store = (SqlLogStore)LogStore.Open("duckdb:" + _path);
        Assert.Equal(1, await store.CountAsync(new LogQuery("walrus")));
        Assert.Equal((1, 1), store.BodyBlocksSeen);
    }

    /// <summary>Text from an alphabet of case pairs, the two non-ASCII letters whose lowercase is ASCII, other non-ASCII (a supplementary one too) and NUL.</summary>
    private static string Text(Random random, int length)
    {
        string[] alphabet = ["a", "B", "k", "K", "i", "I", "\u0130", "\u212A", "é", "É", "\U0001F600", " ", "/", "\0", "ß"];
        var b = new StringBuilder();
        for (var i = 0; i < length; i++)
        {
            b.Append(alphabet[random.Next(alphabet.Length)]);
        }

        return b.ToString();
    }

    [Fact]
    public void BatchDuplicates_InterleavedStreamsWithRepeats_KeepsTheFirstOfEachAsASetWould()
    {
        // Streams interleaved in runs, each mostly rising with repeats and steps back mixed in, over batches that reuse
        // one instance: every answer is the one a set of (stream, position) per batch gives, and every kept item of a
        // stream in a batch shares one string.
        var random = new Random(20261203);
        var duplicates = new BatchDuplicates();
        for (var batch = 0; batch < 200; batch++)
        {
            duplicates.Clear();
            var expected = new HashSet<(string, long)>();
            var names = new Dictionary<string, string>();
            var next = new long[random.Next(1, 6)];
            var items = random.Next(0, 400);
            for (var item = 0; item < items; item++)
            {
                var s = random.Next(next.Length);
                var position = random.Next(10) switch
                {
                    0 => Math.Max(0, next[s] - random.Next(1, 5)),
                    1 => next[s],
                    _ => ++next[s],
                };
                var stream = $"tcp:7:{s}";
                var kept = duplicates.Add(stream.AsSpan(), position);
                Assert.Equal(expected.Add((stream, position)), kept is not null);
                if (kept is not null)
                {
                    Assert.Equal(stream, kept);
                    Assert.Same(names.TryAdd(stream, kept) ? kept : names[stream], kept);
                }
            }
        }
    }

    [Fact]
    public void BodyFilter_FromUtf8Bytes_SetsTheBitsOfTheDecodedText()
    {
        var random = new Random(20261202);
        for (var round = 0; round < 50; round++)
        {
            var fromText = new BodyFilter();
            var fromBytes = new BodyFilter();
            for (var row = 0; row < random.Next(1, 30); row++)
            {
                var bytes = Encoding.UTF8.GetBytes(Text(random, random.Next(0, 20)));
                if (random.Next(3) == 0 && bytes.Length > 0)
                {
                    // Invalid UTF-8 too: a stray continuation byte, a truncated sequence, an overlong form, a surrogate.
                    byte[][] bad = [[0x80], [0xE2, 0x82], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xFF]];
                    var at = random.Next(bytes.Length + 1);
                    bytes = [.. bytes[..at], .. bad[random.Next(bad.Length)], .. bytes[at..]];
                }

                var ts = TestEvents.Base.UtcDateTime.AddSeconds(random.Next(1000));
                var e = new LogEvent($"b:{row}", "tcp", bytes, TestEvents.Base);
                fromBytes.Add(e, ts);
                fromText.Add(Encoding.UTF8.GetString(bytes), ts);
            }

            Assert.Equal((fromText.Rows, fromText.Lo, fromText.Hi), (fromBytes.Rows, fromBytes.Lo, fromBytes.Hi));
            Assert.Equal(fromText.Build(), fromBytes.Build());
        }
    }

    [Fact]
    public async Task Search_BodiesFromUtf8Bytes_StoredAsDecodedAndFoundAsAScanFindsThem()
    {
        var random = new Random(20261203);
        var written = new List<LogEvent>();
        await using (var sink = await DuckDbSink.OpenAsync(new DuckDbSinkOptions { Path = _path }))
        {
            for (var b = 0; b < 8; b++)
            {
                var batch = new List<LogEvent>();
                for (var i = 0; i < random.Next(1, 30); i++)
                {
                    var bytes = Encoding.UTF8.GetBytes(Text(random, random.Next(0, 12)));
                    if (i % 7 == 3)
                    {
                        bytes = [.. bytes, 0xC3];
                    }

                    var at = TestEvents.Base.AddSeconds((b * 100) + i);
                    batch.Add(new LogEvent($"u{b}:{i}", "tcp", bytes, at) { Timestamp = at });
                }

                await sink.WriteBatchAsync(batch, default);
                written.AddRange(batch);
            }
        }

        using (var c = DuckDbSink.NewConnection(Path.GetFullPath(_path), 64L << 20, 1, readOnly: true))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "SELECT id, body FROM events";
            using var r = cmd.ExecuteReader();
            var stored = new Dictionary<string, string>();
            while (r.Read())
            {
                stored.Add(r.GetString(0), r.GetString(1));
            }

            // The received bytes go in as they are when valid, as the decoded text (U+FFFD) when not: both read back as Body.
            foreach (var e in written)
            {
                Assert.True(e.Body == stored[e.Id], $"{e.Id}: [{string.Join(',', e.Body.Select(c => (int)c))}] stored as [{string.Join(',', stored[e.Id].Select(c => (int)c))}]");
            }

            Assert.Equal(written.Count, stored.Count);
        }

        await using var store = (SqlLogStore)LogStore.Open("duckdb:" + _path);
        foreach (var term in new[] { "kki", "\u212Aab", "\u0130ik", "bbb", "a b", "kkk", "iii", "aaa", "kik" })
        {
            // What a scan of every body answers is the exact count the filtered search must equal.
            var expected = DuckDbTestDb.Scalar(_path, "SELECT count(*) FROM events WHERE contains(lower(body), lower('" + term + "'))");
            Assert.True(expected == await store.CountAsync(new LogQuery("body~\"" + term + "\"")), $"term '{term}'");
        }
    }
}
