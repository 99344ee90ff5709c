using Conveyor.Logs.Model;
using Conveyor.Logs.Query;
using Conveyor.Logs.Sinks.DuckDb;
using Conveyor.Logs.Tests.Sinks;
using Conveyor.Logs.Tests.Support;

namespace Conveyor.Logs.Tests.Query;

/// <summary>
/// DuckDB's newest-first windows (<see cref="SqlLogStore.SearchAsync"/>): a page the newest rows hold is read from a
/// window of them, and every answer is the one reading all rows gives.
/// </summary>
public sealed class DuckDbNewestWindowsTests
{
    /// <summary>A store over <paramref name="path"/> (read-only) whose windows start at <paramref name="firstWindowRows"/> rows.</summary>
    internal static SqlLogStore Store(string path, int firstWindowRows)
    {
        var full = System.IO.Path.GetFullPath(path);
        return new SqlLogStore(SqlDialect.DuckDb, () => DuckDbSink.NewConnection(full, 64L << 20, 1, readOnly: true), null) { FirstWindowRows = firstWindowRows };
    }

    [Fact]
    public async Task SearchAsync_PagesInsideAndOutsideTheWindows_AnswerAsReadingEveryRowAndReadOnlyTheWindowsNeeded()
    {
        // 20,000 access lines a second apart in batches of 1,000 (a body-filter block each); every 7th is a 500, and
        // three of the oldest hold a rare word.
        var path = System.IO.Path.Combine(TestEvents.TempFolder(), "windows.duckdb");
        await using (var sink = await DuckDbSink.OpenAsync(new DuckDbSinkOptions { Path = path }))
        {
            for (var b = 0; b < 20; b++)
            {
                var batch = TestEvents.Batch("w", 1000, b * 1000);
                foreach (var e in batch)
                {
                    var i = int.Parse(e.Id.AsSpan(2), System.Globalization.CultureInfo.InvariantCulture);
                    if (i % 7 == 0)
                    {
                        e.Attributes.Set(SemanticNames.HttpResponseStatusCode, 500L);
                    }

                    if (i is 10 or 20 or 30)
                    {
                        e.Body += " zzqxrare";
                    }
                }

                await sink.WriteBatchAsync(batch, default);
            }
        }

        await using var windowed = Store(path, firstWindowRows: 500);
        await using var everyRow = Store(path, firstWindowRows: int.MaxValue);
        async Task<long> Same(LogQuery query)
        {
            var before = windowed.WindowsRead;
            var expected = (await everyRow.SearchAsync(query)).Events.Select(e => e.Id).ToList();
            var actual = (await windowed.SearchAsync(query)).Events.Select(e => e.Id).ToList();
            Assert.Equal(expected, actual);
            Assert.Equal(Math.Min(query.Limit, expected.Count), actual.Count);
            return windowed.WindowsRead - before;
        }

        // The newest 100 of the 500s: the first window (~500 rows) holds ~71 of them, the second (~4,000) the page.
        Assert.Equal(2, await Same(new LogQuery("status=500", Limit: 100)));

        // Everything, later pages: the first window (~500 rows) holds offset 250 plus a page of 100, not offset 450 plus 100.
        Assert.Equal(1, await Same(new LogQuery(null, Limit: 100, Offset: 250)));
        Assert.Equal(2, await Same(new LogQuery(null, Limit: 100, Offset: 450)));

        // Among the oldest rows: both windows come up short and the search reads every row. A rare word skips the
        // windows (its body filters already pick the blocks to read).
        Assert.Equal(2, await Same(new LogQuery("http.response.body.size < 40", Limit: 10)));
        Assert.Equal(0, await Same(new LogQuery("zzqxrare", Limit: 10)));

        // A query with an until reads its range at once; one with a since goes through the windows inside it, and on
        // to every row when the range holds too few matches.
        Assert.Equal(0, await Same(new LogQuery("status=500", Until: TestEvents.Base.AddSeconds(15_000), Limit: 50)));
        Assert.Equal(0, await Same(new LogQuery(null, Until: TestEvents.Base.AddSeconds(100), Limit: 10)));
        Assert.Equal(1, await Same(new LogQuery("status=500", Since: TestEvents.Base.AddSeconds(18_000), Limit: 20)));
        Assert.Equal(2, await Same(new LogQuery("status=500", Since: TestEvents.Base.AddSeconds(19_800), Limit: 100)));
    }

    [Fact]
    public async Task SearchAsync_NewerRowsStoredFirst_AnswerAsReadingEveryRow()
    {
        // Rows out of arrival order: 50 events stamped far later arrive first (a sender with its clock ahead, a replay
        // of newer logs), then 20,000 in time order. Their row ids are the lowest, yet a newest-first page starts with
        // them: every window's page has a newer match below it, so the search reads on to every row.
        var path = System.IO.Path.Combine(TestEvents.TempFolder(), "late.duckdb");
        await using (var sink = await DuckDbSink.OpenAsync(new DuckDbSinkOptions { Path = path }))
        {
            await sink.WriteBatchAsync(TestEvents.Batch("f", 50, 1_000_000), default);
            for (var b = 0; b < 20; b++)
            {
                var batch = TestEvents.Batch("w", 1000, b * 1000);
                foreach (var e in batch.Where((_, i) => i % 7 == 0))
                {
                    e.Attributes.Set(SemanticNames.HttpResponseStatusCode, 500L);
                }

                await sink.WriteBatchAsync(batch, default);
            }
        }

        await using var windowed = Store(path, firstWindowRows: 500);
        await using var everyRow = Store(path, firstWindowRows: int.MaxValue);
        var all = await windowed.SearchAsync(new LogQuery(null, Limit: 60));
        Assert.Equal((await everyRow.SearchAsync(new LogQuery(null, Limit: 60))).Events.Select(e => e.Id), all.Events.Select(e => e.Id));
        Assert.Equal(Enumerable.Range(1_000_000, 50).Reverse().Select(i => $"f-{i:D6}"), all.Events.Take(50).Select(e => e.Id));
        Assert.Equal(2, windowed.WindowsRead);

        // The late rows are all 200s: below the window no 500 is newer than the page, so the second window answers.
        var errors = await windowed.SearchAsync(new LogQuery("status=500", Limit: 100));
        Assert.Equal((await everyRow.SearchAsync(new LogQuery("status=500", Limit: 100))).Events.Select(e => e.Id), errors.Events.Select(e => e.Id));
        Assert.Equal(4, windowed.WindowsRead);
    }

    [Fact]
    public async Task SearchAsync_SmallStore_ReadsNoWindow()
    {
        var path = System.IO.Path.Combine(TestEvents.TempFolder(), "small.duckdb");
        await using (var sink = await DuckDbSink.OpenAsync(new DuckDbSinkOptions { Path = path }))
        {
            await sink.WriteBatchAsync(TestEvents.Batch("s", 900), default);
        }

        // A first window of 500 rows is more than half of 900: the store reads everything at once.
        await using var store = Store(path, firstWindowRows: 500);
        Assert.Equal(100, (await store.SearchAsync(new LogQuery(null))).Count);
        Assert.Equal(0, store.WindowsRead);
    }
}

/// <summary>The golden query suite again with windows from one row, so each search goes through them.</summary>
public sealed class DuckDbWindowedLogStoreTests(DuckDbGoldenFixture fixture) : LogStoreContractTests, IClassFixture<DuckDbGoldenFixture>
{
    protected override bool PreservesAttributeOrder => false;

    protected override Task<ILogStore> GoldenStoreAsync() => Task.FromResult<ILogStore>(DuckDbNewestWindowsTests.Store(fixture.Path, firstWindowRows: 1));

    protected override Task<long> CountEventsRawAsync() => Task.FromResult(DuckDbTestDb.Scalar(fixture.Path, "SELECT count(*) FROM events"));
}
