using System.Text.Json;
using Conveyor.Logs.Model;
using Conveyor.Logs.Query;
using Conveyor.Logs.Tests.Support;

namespace Conveyor.Logs.Tests.Query;

/// <summary>The same golden queries against every store: SQLite and PostgreSQL must answer alike.</summary>
public abstract class LogStoreContractTests
{
    /// <summary>A store holding exactly <see cref="GoldenData.Events"/> and two dead letters.</summary>
    protected abstract Task<ILogStore> GoldenStoreAsync();

    /// <summary>Whether the events table still exists and holds all thirty events.</summary>
    protected abstract Task<long> CountEventsRawAsync();

    /// <summary>False for jsonb, which keeps object keys in its own order: attributes then compare as sets.</summary>
    protected virtual bool PreservesAttributeOrder => true;

    public static TheoryData<string, string[]> Cases() => GoldenData.Cases();

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task SearchAsync_GoldenExpression_ReturnsExpectedIdsNewestFirst(string expression, string[] expected)
    {
        await using var store = await GoldenStoreAsync();
        var result = await store.SearchAsync(new LogQuery(expression, Limit: 1000));
        Assert.Equal(expected, result.Events.Select(e => e.Id).ToArray());
        Assert.Equal(expected.Length, await store.CountAsync(new LogQuery(expression)));
        Assert.Equal(30, await CountEventsRawAsync());
    }

    [Theory]
    [InlineData("timeout", 3)]
    [InlineData("NOT timeout AND status = 200", 4)]
    [InlineData("body ~ items OR timeout", 5)]
    [InlineData("ITEMS/1", 2)]
    public async Task SearchAsync_FullTextWithSmallLimit_ReturnsTheNewestMatches(string expression, int limit)
    {
        await using var store = await GoldenStoreAsync();
        var all = (await store.SearchAsync(new LogQuery(expression, Limit: 1000))).Events.Select(e => e.Id).ToArray();
        var newest = (await store.SearchAsync(new LogQuery(expression, Limit: limit))).Events.Select(e => e.Id).ToArray();
        Assert.True(all.Length > limit);
        Assert.Equal(all.Take(limit).ToArray(), newest);
    }

    [Fact]
    public async Task SearchAsync_DeepestAndWidestQueryTheParserAccepts_IsPlannedByTheStore()
    {
        // The parser's limits are only safe if every query within them can be planned: SQLite refuses expression trees
        // deeper than 1,000, so 1,000 ORed terms under the deepest nesting must still run (and find the same events).
        await using var store = await GoldenStoreAsync();
        var wide = string.Join(" OR ", Enumerable.Range(0, QueryParser.MaxTerms - 1).Select(i => $"status = {1000 + i}")) + " OR timeout";
        var depth = QueryParser.MaxDepth / 2;
        var deep = string.Concat(Enumerable.Repeat("NOT (", depth)) + wide + new string(')', depth);
        var expected = (await store.SearchAsync(new LogQuery("timeout", Limit: 1000))).Events.Select(e => e.Id).ToArray();
        var result = await store.SearchAsync(new LogQuery(deep, Limit: 1000));
        Assert.NotEmpty(expected);
        Assert.Equal(expected, result.Events.Select(e => e.Id).ToArray());
    }

    [Fact]
    public async Task SearchAsync_StoredEvent_ReadsBackAsTheSameJson()
    {
        await using var store = await GoldenStoreAsync();
        var stored = (await store.SearchAsync(new LogQuery("*", Limit: 100))).Events.ToDictionary(e => e.Id);
        foreach (var original in GoldenData.Events())
        {
            Assert.Equal(Json(original, PreservesAttributeOrder), Json(stored[original.Id], PreservesAttributeOrder));
        }
    }

    [Fact]
    public async Task SearchAsync_NumbersAndEmptyContainers_ReadBackWithTheirKinds()
    {
        await using var store = await GoldenStoreAsync();
        var e = (await store.SearchAsync(new LogQuery("*", Limit: 100))).Events.Single(x => x.Id == "g11");
        Assert.True(e.Attributes.TryGetValue("duration", out var duration) && duration is double d && d == 0.0, $"duration: {duration?.GetType().Name}");
        Assert.True(e.Attributes.TryGetValue("ratio", out var ratio) && ratio is double r && r == 1000.0, $"ratio: {ratio?.GetType().Name}");
        Assert.True(e.Attributes.TryGetValue("huge", out var huge) && huge is double h && h == 1.5e20, $"huge: {huge?.GetType().Name}");
        Assert.True(e.Attributes.TryGetValue("tiny", out var tiny) && tiny is double t && t == -2.5e-7, $"tiny: {tiny?.GetType().Name}");
        Assert.True(e.Attributes.TryGetInt64("count", out var count) && count == 0);
        Assert.True(e.Attributes.TryGetValue("trace.big", out var big) && big is System.Numerics.BigInteger b && b.ToString(System.Globalization.CultureInfo.InvariantCulture) == "18446744073709551615123");
        Assert.True(e.Attributes.TryGetValue("empty", out var empty) && empty is IReadOnlyDictionary<string, object?> { Count: 0 });
        Assert.True(e.Attributes.TryGetValue("none", out var none) && none is IReadOnlyList<object?> { Count: 0 });
    }

    [Fact]
    public async Task WriteAsync_SearchResponse_WritesFloatsAsFloatsAndBigIntegersExactly()
    {
        await using var store = await GoldenStoreAsync();
        using var ms = new MemoryStream();
        Assert.Equal(200, await SearchResponse.WriteAsync(ms, store, "*", null, null, "100", false, TimeProvider.System));
        var text = System.Text.Encoding.UTF8.GetString(ms.ToArray());
        Assert.Contains("\"duration\":0.0", text, StringComparison.Ordinal);
        Assert.Contains("\"ratio\":1000.0", text, StringComparison.Ordinal);
        Assert.Contains("\"huge\":150000000000000000000.0", text, StringComparison.Ordinal);
        Assert.Matches("\"count\":0[,}]", text);
        Assert.Contains("\"trace.big\":18446744073709551615123", text, StringComparison.Ordinal);
        Assert.Contains("\"empty\":{}", text, StringComparison.Ordinal);
        Assert.Contains("\"none\":[]", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SearchAsync_SinceUntilAndLimit_CutTheRange()
    {
        await using var store = await GoldenStoreAsync();
        var since = new DateTimeOffset(2026, 11, 20, 10, 10, 0, TimeSpan.Zero);
        var result = await store.SearchAsync(new LogQuery(null, since, since.AddMinutes(10), 3));
        Assert.Equal(["g19", "g18", "g17"], result.Events.Select(e => e.Id).ToArray());
        Assert.Equal(10, await store.CountAsync(new LogQuery(null, since, since.AddMinutes(10))));
    }

    [Fact]
    public async Task SearchAsync_Offset_PagesOlderWithoutGapsOrRepeats()
    {
        await using var store = await GoldenStoreAsync();
        var since = new DateTimeOffset(2026, 11, 20, 10, 10, 0, TimeSpan.Zero);
        var pages = new List<string>();
        for (var offset = 0; offset < 12; offset += 4)
        {
            pages.AddRange((await store.SearchAsync(new LogQuery(null, since, since.AddMinutes(10), 4, Offset: offset))).Events.Select(e => e.Id));
        }

        Assert.Equal(Enumerable.Range(10, 10).Reverse().Select(i => $"g{i}").ToArray(), pages.ToArray());
    }

    [Fact]
    public async Task WriteAsync_Offset_SkipsAndRejectsNegative()
    {
        await using var store = await GoldenStoreAsync();
        var second = (await store.SearchAsync(new LogQuery("status >= 500", Limit: 2))).Events[1].Id;
        using var ms = new MemoryStream();
        Assert.Equal(200, await SearchResponse.WriteAsync(ms, store, new SearchParameters("status >= 500", null, null, "1", "1", false), TimeProvider.System));
        using (var doc = JsonDocument.Parse(ms.ToArray()))
        {
            Assert.Equal(second, doc.RootElement.GetProperty("events")[0].GetProperty("id").GetString());
        }

        using var bad = new MemoryStream();
        Assert.Equal(400, await SearchResponse.WriteAsync(bad, store, new SearchParameters(null, null, null, null, "-1", false), TimeProvider.System));
        Assert.Equal("offset", JsonDocument.Parse(bad.ToArray()).RootElement.GetProperty("parameter").GetString());
    }

    [Theory]
    [InlineData("", 10)]
    [InlineData("status >= 500", 10)]
    [InlineData("timeout", 7)]
    [InlineData("method = GET", 1)]
    public async Task HistogramAsync_Buckets_MatchTheEventsAndSumToTheCount(string expression, int minutes)
    {
        await using var store = await GoldenStoreAsync();
        var query = new LogQuery(expression);
        var width = TimeSpan.FromMinutes(minutes);
        var matching = (await store.SearchAsync(query with { Limit = 1000 })).Events.Select(e => e.Id).ToHashSet();
        var expected = GoldenData.Events().Where(e => matching.Contains(e.Id))
            .GroupBy(e => (e.EffectiveTimestamp - DateTimeOffset.UnixEpoch).Ticks / width.Ticks)
            .OrderBy(g => g.Key)
            .Select(g => (DateTimeOffset.UnixEpoch.AddTicks(g.Key * width.Ticks), (long)g.Count()))
            .ToArray();
        var buckets = await store.HistogramAsync(query, width);
        Assert.Equal(expected, buckets.Select(b => (b.Time, b.Count)).ToArray());
        Assert.Equal(await store.CountAsync(query), buckets.Sum(b => b.Count));
    }

    [Fact]
    public async Task WriteAsync_TotalAndHistogram_CountEveryMatchInTheWindow()
    {
        await using var store = await GoldenStoreAsync();
        using var ms = new MemoryStream();
        var parameters = new SearchParameters("GET", "2026-11-20T10:05:00Z", "2026-11-20T10:25:00Z", "3", null, false, "1", "5m");
        Assert.Equal(200, await SearchResponse.WriteAsync(ms, store, parameters, TimeProvider.System));
        using var doc = JsonDocument.Parse(ms.ToArray());
        var root = doc.RootElement;
        var total = await store.CountAsync(new LogQuery("GET", new DateTimeOffset(2026, 11, 20, 10, 5, 0, TimeSpan.Zero), new DateTimeOffset(2026, 11, 20, 10, 25, 0, TimeSpan.Zero)));
        Assert.True(total > 3);
        Assert.Equal(3, root.GetProperty("count").GetInt32());
        Assert.Equal(total, root.GetProperty("total").GetInt64());
        var histogram = root.GetProperty("histogram").EnumerateArray().ToList();
        Assert.Equal(new[] { "2026-11-20T10:05:00+00:00", "2026-11-20T10:10:00+00:00", "2026-11-20T10:15:00+00:00", "2026-11-20T10:20:00+00:00" }, histogram.Select(b => b.GetProperty("time").GetString()!).ToArray());
        Assert.Equal(total, histogram.Sum(b => b.GetProperty("count").GetInt64()));

        using var bad = new MemoryStream();
        Assert.Equal(400, await SearchResponse.WriteAsync(bad, store, new SearchParameters(null, null, null, null, null, false, null, "soon"), TimeProvider.System));
        Assert.Equal("histogram", JsonDocument.Parse(bad.ToArray()).RootElement.GetProperty("parameter").GetString());
    }

    [Theory]
    [InlineData("1000", null, 0)]
    [InlineData("1000", "2", 0)]
    [InlineData("3", null, 1)]
    [InlineData("1000", "500", 1)]
    public async Task WriteAsync_Total_ComesFromAShortPageWithoutASecondScan(string limit, string? offset, int counts)
    {
        // A rare word's total was a second scan of every row after the search had already scanned them all.
        await using var inner = await GoldenStoreAsync();
        var store = new CountingStore(inner);
        using var ms = new MemoryStream();
        var parameters = new SearchParameters("GET", "2026-11-20T10:05:00Z", "2026-11-20T10:25:00Z", limit, offset, false, "1", null);
        Assert.Equal(200, await SearchResponse.WriteAsync(ms, store, parameters, TimeProvider.System));
        var total = await inner.CountAsync(new LogQuery("GET", new DateTimeOffset(2026, 11, 20, 10, 5, 0, TimeSpan.Zero), new DateTimeOffset(2026, 11, 20, 10, 25, 0, TimeSpan.Zero)));
        Assert.True(total > 3);
        Assert.Equal(total, JsonDocument.Parse(ms.ToArray()).RootElement.GetProperty("total").GetInt64());
        Assert.Equal(counts, store.Counts);
    }

    /// <summary>The real store, counting the count queries the search response asks of it.</summary>
    private sealed class CountingStore(ILogStore inner) : ILogStore
    {
        public int Counts { get; private set; }

        public Task<LogQueryResult> SearchAsync(LogQuery query, CancellationToken cancellationToken = default) => inner.SearchAsync(query, cancellationToken);

        public Task<long> CountAsync(LogQuery query, CancellationToken cancellationToken = default)
        {
            Counts++;
            return inner.CountAsync(query, cancellationToken);
        }

        public Task<IReadOnlyList<HistogramBucket>> HistogramAsync(LogQuery query, TimeSpan width, CancellationToken cancellationToken = default) =>
            inner.HistogramAsync(query, width, cancellationToken);

        public IAsyncEnumerable<LogEvent> ReadEventsAsync(DateTimeOffset? since, DateTimeOffset? until, CancellationToken cancellationToken = default) =>
            inner.ReadEventsAsync(since, until, cancellationToken);

        public IAsyncEnumerable<DeadLetter> ReadDeadLettersAsync(DateTimeOffset? since, DateTimeOffset? until, CancellationToken cancellationToken = default) =>
            inner.ReadDeadLettersAsync(since, until, cancellationToken);

        public ValueTask DisposeAsync() => default;
    }

    [Fact]
    public async Task ReadEventsAsync_Window_StreamsOldestFirst()
    {
        await using var store = await GoldenStoreAsync();
        var since = new DateTimeOffset(2026, 11, 20, 10, 10, 0, TimeSpan.Zero);
        var ids = new List<string>();
        await foreach (var e in store.ReadEventsAsync(since, since.AddMinutes(5)))
        {
            ids.Add(e.Id);
        }

        Assert.Equal(["g10", "g11", "g12", "g13", "g14"], ids.ToArray());
        var letters = new List<string>();
        await foreach (var d in store.ReadDeadLettersAsync(null, null))
        {
            letters.Add(d.Id);
        }

        Assert.Equal(["d1", "d2"], letters.ToArray());
    }

    [Fact]
    public async Task SearchAsync_DeadLetters_SearchesRawLineAndReason()
    {
        await using var store = await GoldenStoreAsync();
        var all = await store.SearchAsync(new LogQuery("", DeadLetters: true));
        Assert.Equal(["d2", "d1"], all.DeadLetters.Select(d => d.Id).ToArray());
        Assert.Equal(["d1"], (await store.SearchAsync(new LogQuery("garbage", DeadLetters: true))).DeadLetters.Select(d => d.Id).ToArray());
        Assert.Equal(["d2"], (await store.SearchAsync(new LogQuery("parser = json AND reason ~ BRACE", DeadLetters: true))).DeadLetters.Select(d => d.Id).ToArray());
        Assert.Equal(1, await store.CountAsync(new LogQuery("source = tcp", DeadLetters: true)));
    }

    [Theory]
    [InlineData("status >= ", 11, "expected a value after '>='")]
    [InlineData("(status = 500", 14, "expected ')'")]
    [InlineData("status = 500)", 13, "unexpected ')'")]
    [InlineData("= 5", 1, "expected a field name")]
    [InlineData("a AND", 6, "expected a term after 'AND'")]
    [InlineData("\"open", 1, "expected a closing")]
    [InlineData("status ! 5", 8, "expected '=' after '!'")]
    [InlineData("time > yesterday", 8, "expected an ISO-8601 time")]
    [InlineData("a\\b = 1", 1, "expected a field name")]
    public async Task SearchAsync_BadExpression_ThrowsWithColumnAndExpectation(string expression, int column, string expected)
    {
        await using var store = await GoldenStoreAsync();
        var e = await Assert.ThrowsAsync<QuerySyntaxException>(() => store.SearchAsync(new LogQuery(expression)));
        Assert.Equal(column, e.Column);
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        Assert.StartsWith($"column {column}: ", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("'; DROP TABLE events; --")]
    [InlineData("status = 1; DELETE FROM events")]
    [InlineData("status = ) OR 1=1 --")]
    public async Task SearchAsync_InjectionThatDoesNotParse_IsRefusedAndTableSurvives(string expression)
    {
        await using var store = await GoldenStoreAsync();
        try
        {
            var result = await store.SearchAsync(new LogQuery(expression));
            Assert.Empty(result.Events);
        }
        catch (QuerySyntaxException)
        {
            // Refused before any SQL ran: equally inert.
        }

        Assert.Equal(30, await CountEventsRawAsync());
    }

    [Fact]
    public async Task SearchAsync_QuotedOddFieldName_IsLookedUpAsAnAttributeNotSql()
    {
        await using var store = await GoldenStoreAsync();
        var e = await Assert.ThrowsAsync<QuerySyntaxException>(() => store.SearchAsync(new LogQuery("a'b = 'quoted key'")));
        Assert.Contains("expected", e.Message, StringComparison.Ordinal);
        Assert.Equal(30, await CountEventsRawAsync());
    }

    [Fact]
    public async Task WriteAsync_SearchResponse_HasEventsCountAndTruncation()
    {
        await using var store = await GoldenStoreAsync();
        using var ms = new MemoryStream();
        var status = await SearchResponse.WriteAsync(ms, store, "status >= 500", null, null, "2", false, TimeProvider.System);
        Assert.Equal(200, status);
        using var doc = JsonDocument.Parse(ms.ToArray());
        Assert.Equal(2, doc.RootElement.GetProperty("count").GetInt32());
        Assert.True(doc.RootElement.GetProperty("truncated").GetBoolean());
        Assert.Equal("g26", doc.RootElement.GetProperty("events")[0].GetProperty("id").GetString());
    }

    [Fact]
    public async Task WriteAsync_BadQuery_Returns400WithColumn()
    {
        await using var store = await GoldenStoreAsync();
        using var ms = new MemoryStream();
        var status = await SearchResponse.WriteAsync(ms, store, "status >=", null, null, null, false, TimeProvider.System);
        Assert.Equal(400, status);
        using var doc = JsonDocument.Parse(ms.ToArray());
        Assert.Equal(10, doc.RootElement.GetProperty("column").GetInt32());
        Assert.StartsWith("column 10: expected a value", doc.RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    internal static IReadOnlyList<DeadLetter> GoldenDeadLetters() =>
    [
        new DeadLetter("d1", "tcp", "combined", "no request line", "garbage \u00e9 line", TestEvents.Base),
        new DeadLetter("d2", "http", "json", "unterminated brace", "{\"a\": 1", TestEvents.Base.AddMinutes(1)),
    ];

    private static string Json(LogEvent e, bool keepOrder)
    {
        if (!keepOrder)
        {
            var sorted = new LogEvent(e.Id, e.Source, e.Body, e.ObservedTimestamp) { Timestamp = e.Timestamp, SeverityNumber = e.SeverityNumber, SeverityText = e.SeverityText };
            foreach (var (k, v) in e.Attributes.OrderBy(a => a.Key, StringComparer.Ordinal))
            {
                sorted.Attributes.Set(k, v);
            }

            foreach (var (k, v) in e.HasResource ? e.Resource.OrderBy(a => a.Key, StringComparer.Ordinal) : Enumerable.Empty<KeyValuePair<string, object?>>())
            {
                sorted.Resource.Set(k, v);
            }

            e = sorted;
        }

        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, LogEventJson.WriterOptions))
        {
            LogEventJson.Write(w, e);
        }

        return System.Text.Encoding.UTF8.GetString(ms.ToArray());
    }
}
