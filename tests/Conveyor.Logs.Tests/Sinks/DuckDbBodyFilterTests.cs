using Conveyor.Logs.Model;
using Conveyor.Logs.Query;
using Conveyor.Logs.Sinks.DuckDb;
using Conveyor.Logs.Tests.Support;
using DuckDB.NET.Data;

namespace Conveyor.Logs.Tests.Sinks;

/// <summary>
/// The per-batch body filters (<see cref="BodyFilter"/>): a bare word reads only the blocks that may hold it, and the
/// answer is the one a scan of every body gives.
/// </summary>
public sealed class DuckDbBodyFilterTests
{
    private readonly string _path = Path.Combine(TestEvents.TempFolder(), "filters.duckdb");

    /// <summary>Five batches (blocks) of 200 access-log events, a minute apart; <paramref name="extra"/> joins block 2.</summary>
    private async Task WriteBlocksAsync(params LogEvent[] extra)
    {
        await using var sink = await DuckDbSink.OpenAsync(new DuckDbSinkOptions { Path = _path });
        for (var b = 0; b < 5; b++)
        {
            var batch = TestEvents.Batch($"b{b}", 200, b * 200);
            if (b == 2)
            {
                batch.AddRange(extra);
            }

            await sink.WriteBatchAsync(batch, default);
        }
    }

    private static LogEvent Body(string id, string body, int second) =>
        new(id, "web", body, TestEvents.Base.AddSeconds(second)) { Timestamp = TestEvents.Base.AddSeconds(second) };

    /// <summary>What a scan of every body answers: the exact count the filtered search must equal.</summary>
    private long ScanCount(string term)
    {
        using var c = DuckDbSink.NewConnection(Path.GetFullPath(_path), 64L << 20, 1, readOnly: true);
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT count(*) FROM events WHERE contains(lower(body), lower($t))";
        cmd.Parameters.Add(new DuckDBParameter("t", term));
        return Convert.ToInt64(cmd.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private SqlLogStore OpenStore() => (SqlLogStore)LogStore.Open("duckdb:" + _path);

    [Fact]
    public async Task Search_WordInOneBlockOnly_FoundWithTheRightTotalReadingThatBlock()
    {
        await WriteBlocksAsync(Body("x1", "GET /ZebraFish 200", 450), Body("x2", "zebrafish again", 451), Body("x3", "a zEBRAFISH", 452));
        Assert.Equal(5, DuckDbTestDb.Scalar(_path, "SELECT count(*) FROM body_filters WHERE bits IS NOT NULL"));
        await using var store = OpenStore();
        Assert.Equal(3, await store.CountAsync(new LogQuery("zebrafish")));
        Assert.Equal(["x3", "x2", "x1"], (await store.SearchAsync(new LogQuery("Zebrafish", Limit: 10))).Events.Select(e => e.Id));
        Assert.Equal(3, (await store.HistogramAsync(new LogQuery("body~ZEBRAFISH"), TimeSpan.FromMinutes(1))).Sum(b => b.Count));
        Assert.Equal((3, 12), store.BodyBlocksSeen);

        // A word in every block (the 1,000 access lines and x1) is a plain scan: no lookup result, nothing counted.
        Assert.Equal(1001, await store.CountAsync(new LogQuery("get")));
        Assert.Equal((3, 12), store.BodyBlocksSeen);
    }

    [Fact]
    public async Task Search_WordInNoBlock_ReturnsZeroWithoutReadingABlock()
    {
        await WriteBlocksAsync();
        await using var store = OpenStore();
        Assert.Equal(0, await store.CountAsync(new LogQuery("zzqxrare")));
        Assert.Empty((await store.SearchAsync(new LogQuery("zzqxrare", Limit: 10))).Events);

        // Under NOT the word's FALSE turns into every row, as a scan would answer.
        Assert.Equal(1000, await store.CountAsync(new LogQuery("NOT zzqxrare")));
        Assert.Equal((0, 15), store.BodyBlocksSeen);
    }

    [Fact]
    public async Task Search_FalsePositiveBlock_StillAnswersExactly()
    {
        // Block 2 holds every trigram of "abcdef" (abc, bcd in one body; cde, def in another) but no body holds the word.
        await WriteBlocksAsync(Body("p1", "xabcdx", 450), Body("p2", "ycdefy", 451));
        await using var store = OpenStore();
        Assert.Equal(0, await store.CountAsync(new LogQuery("abcdef")));
        Assert.Equal(1, await store.CountAsync(new LogQuery("abcd")));
        Assert.Equal(2, await store.CountAsync(new LogQuery("abcdef OR abcd OR cdef")));
        Assert.True(store.BodyBlocksSeen.Kept >= 4, $"block 2 is kept for each term: {store.BodyBlocksSeen}");
    }

    [Fact]
    public async Task Search_TermShorterThanATrigram_ScansEveryBlock()
    {
        await WriteBlocksAsync(Body("s1", "qz", 450));
        await using var store = OpenStore();
        Assert.Equal(1, await store.CountAsync(new LogQuery("QZ")));
        Assert.Equal((0, 0), store.BodyBlocksSeen);
    }

    [Fact]
    public async Task Search_RandomBodiesAndTerms_MatchAScanOfEveryBody()
    {
        // Small alphabets so terms hit some blocks and miss others; mixed case, the Kelvin sign and a dotted capital I
        // (whose lowercase is ASCII in DuckDB) and other non-ASCII characters.
        var random = new Random(20261201);
        const string Alphabet = "abcdeABCDE \u212A\u0130k i/é";
        string Text(int length) => new([.. Enumerable.Range(0, length).Select(_ => Alphabet[random.Next(Alphabet.Length)])]);
        await using (var sink = await DuckDbSink.OpenAsync(new DuckDbSinkOptions { Path = _path }))
        {
            for (var b = 0; b < 12; b++)
            {
                var n = random.Next(1, 40);
                await sink.WriteBatchAsync([.. Enumerable.Range(0, n).Select(i => Body($"r{b}-{i}", Text(random.Next(0, 12)), (b * 100) + i))], default);
            }
        }

        await using var store = OpenStore();
        var terms = Enumerable.Range(0, 150).Select(_ => Text(random.Next(3, 7)).Trim()).Where(t => t.Length >= 3).Distinct().ToList();
        terms.AddRange(["kkk", "ik", "KI i", "abcdea"]);
        foreach (var term in terms)
        {
            Assert.True(ScanCount(term) == await store.CountAsync(new LogQuery("body~\"" + term + "\"")), $"term '{term}'");
        }

        Assert.True(store.BodyBlocksSeen.Skipped > 0, $"some blocks were skipped: {store.BodyBlocksSeen}");
    }

    [Fact]
    public async Task OpenAsync_Version2FileWithRows_ScansTheOldRowsAndFiltersTheNew()
    {
        using (var w = DuckDbSink.NewConnection(Path.GetFullPath(_path), 64L << 20, 1, readOnly: false))
        {
            w.Open();
            DuckDbSchema.Migrate(w, 2);
            DuckDbSchema.Execute(w, """
                INSERT INTO events SELECT TIMESTAMP '2026-11-20 09:00:00' + INTERVAL (i) SECOND, 0, TIMESTAMP '2026-11-20 09:00:00', 0, 9, 'INFO',
                    NULL, NULL, NULL, NULL, NULL, 'web', 'old:' || i, 'old Walrus ' || i, NULL, NULL, NULL, NULL, '{}', NULL
                FROM range(50) t(i)
                """);
        }

        await using (var sink = await DuckDbSink.OpenAsync(new DuckDbSinkOptions { Path = _path }))
        {
            await sink.WriteBatchAsync(TestEvents.Batch("new", 100), default);
        }

        Assert.Equal(1, DuckDbTestDb.Scalar(_path, "SELECT count(*) FROM body_filters WHERE bits IS NULL AND row_count = 50"));
        await using var store = OpenStore();
        Assert.Equal(50, await store.CountAsync(new LogQuery("walrus")));
        Assert.Equal(0, await store.CountAsync(new LogQuery("zzqxrare")));
        Assert.Equal((2, 2), store.BodyBlocksSeen);
    }

    [Fact]
    public async Task ApplyRetentionAsync_DeletesTheFiltersOfDeletedBlocks()
    {
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(TestEvents.Base.AddHours(2));
        await using (var sink = await DuckDbSink.OpenAsync(new DuckDbSinkOptions { Path = _path, RetentionMaxAge = TimeSpan.FromHours(1) }, clock))
        {
            await sink.WriteBatchAsync(TestEvents.Batch("old", 10), default);
            await sink.WriteBatchAsync(Enumerable.Range(0, 5).Select(i => TestEvents.Access("new", i, TestEvents.Base.AddMinutes(90))).ToList(), default);
            Assert.Equal(10, (await sink.ApplyRetentionAsync()).Events);
        }

        Assert.Equal(1, DuckDbTestDb.Scalar(_path, "SELECT count(*) FROM body_filters"));
        Assert.Equal(5, DuckDbTestDb.Scalar(_path, "SELECT CAST(sum(row_count) AS BIGINT) FROM body_filters"));
    }
}
