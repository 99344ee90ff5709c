using System.Text;
using Conveyor.Logs.Model;
using Conveyor.Logs.Query;
using Conveyor.Logs.Sinks.DuckDb;
using Conveyor.Logs.Tests.Support;

namespace Conveyor.Logs.Tests.Sinks;

/// <summary>
/// The DuckDB sink's own chunk appender (<see cref="EventAppender"/>): every column of every row reads back as it was
/// written, across several data chunks (a NULL in one chunk never leaks into the next, a value never turns NULL), for
/// text DuckDB.NET's string path could not carry (a NUL inside) or that arrives as bytes that are not valid UTF-8.
/// </summary>
public sealed class DuckDbEventAppenderTests
{
    private readonly string _path = Path.Combine(TestEvents.TempFolder(), "appender.duckdb");

    /// <summary>
    /// 5,000 rows (three chunks of DuckDB's 2,048), each nullable column present on a different period so that every
    /// chunk holds both NULLs and values at shifting rows; times before 1970 and with sub-microsecond ticks.
    /// </summary>
    private static List<LogEvent> Events()
    {
        var events = new List<LogEvent>();
        for (var i = 0; i < 5_000; i++)
        {
            var observed = TestEvents.Base.AddTicks(i * 10_010L);
            var e = i % 4 == 0
                ? new LogEvent($"s:{i}", "tcp", Encoding.UTF8.GetBytes($"bytes line {i} caf\u00e9 \U0001F600"), observed)
                : new LogEvent($"s:{i}", "tcp", $"string line {i}" + (i % 9 == 0 ? " with a NUL \0 inside" : string.Empty), observed);
            if (i % 3 != 0)
            {
                // Microseconds round down, also before the epoch (-0.5 µs is stored as -1 µs).
                e.Timestamp = i % 10 == 1
                    ? new DateTimeOffset(1969, 12, 31, 23, 59, 59, TimeSpan.FromHours(5)).AddTicks(-(i % 7))
                    : observed.AddMinutes(-i).ToOffset(TimeSpan.FromMinutes((i % 5) * 30));
            }

            e.SeverityNumber = i % 25;
            e.SeverityText = i % 2 == 0 ? "INFO" : null;
            if (i % 5 != 0)
            {
                e.Attributes.Set(SemanticNames.HttpResponseStatusCode, 200L + (i % 7));
            }

            if (i % 6 != 0)
            {
                e.Attributes.Set(SemanticNames.HttpRequestMethod, "GET");
                e.Attributes.Set(SemanticNames.UrlOriginal, $"/item/{i}?q=\u00fc" + (i % 11 == 0 ? "\0" : string.Empty));
            }

            if (i % 7 != 0)
            {
                e.Attributes.Set(SemanticNames.ClientAddress, $"10.0.{i % 256}.1");
                e.Attributes.Set(SemanticNames.UserAgentOriginal, "Mozilla/5.0 (X11; Linux x86_64) " + new string('u', i % 40));
            }

            e.Attributes.Set("n", (long)i);
            if (i % 8 == 0)
            {
                e.TraceId = i.ToString("x32", System.Globalization.CultureInfo.InvariantCulture);
                e.SpanId = i.ToString("x16", System.Globalization.CultureInfo.InvariantCulture);
                e.TraceFlags = i % 16 == 0 ? 1 : null;
            }

            if (i % 13 == 0)
            {
                e.EventName = "http.request";
                e.Resource.Set("service.name", "shop");
            }

            events.Add(e);
        }

        return events;
    }

    [Fact]
    public async Task WriteBatchAsync_RowsOverSeveralChunks_EveryColumnReadsBackAsWritten()
    {
        var events = Events();
        await using (var sink = await DuckDbSink.OpenAsync(new DuckDbSinkOptions { Path = _path }))
        {
            await sink.WriteBatchAsync(events, default);
        }

        await using var store = LogStore.Open("duckdb:" + _path);
        var back = (await store.SearchAsync(new LogQuery(null, Limit: 10_000))).Events.ToDictionary(e => e.Id);
        Assert.Equal(events.Count, back.Count);
        foreach (var e in events)
        {
            // DuckDB keeps microseconds: the time reads back rounded down to one.
            e.Timestamp = e.Timestamp is { } t ? t.AddTicks(-(((t.UtcTicks % 10) + 10) % 10)) : null;
            Assert.Equal(EventJson.WithAttributeSets(e), EventJson.WithAttributeSets(back[e.Id]));
        }

        // The columns themselves, not only what the store makes of them: NULL exactly where the event has no value.
        Assert.Equal(events.Count(e => e.TraceId is null), DuckDbTestDb.Scalar(_path, "SELECT count(*) FROM events WHERE trace_id IS NULL"));
        Assert.Equal(events.Count(e => e.TraceFlags is null), DuckDbTestDb.Scalar(_path, "SELECT count(*) FROM events WHERE trace_flags IS NULL"));
        Assert.Equal(events.Count(e => e.Timestamp is null), DuckDbTestDb.Scalar(_path, "SELECT count(*) FROM events WHERE ts_offset IS NULL"));
        Assert.Equal(events.Count(e => !e.Attributes.TryGetValue(SemanticNames.HttpResponseStatusCode, out _)), DuckDbTestDb.Scalar(_path, "SELECT count(*) FROM events WHERE status IS NULL"));
        Assert.Equal(events.Count(e => !e.HasResource), DuckDbTestDb.Scalar(_path, "SELECT count(*) FROM events WHERE resource IS NULL"));
        Assert.Equal(events.Count(e => e.Body.Contains('\0', StringComparison.Ordinal)), DuckDbTestDb.Scalar(_path, "SELECT count(*) FROM events WHERE contains(body, chr(0))"));
        Assert.Equal(-1, DuckDbTestDb.Scalar(_path, "SELECT epoch_us(ts) - epoch_us(TIMESTAMP '1969-12-31 18:59:59') FROM events WHERE id = 's:1'"));
    }

    [Fact]
    public async Task WriteBatchAsync_BodyBytesNotUtf8_StoredAsTheirDecodedText()
    {
        byte[] invalid = [.. Encoding.UTF8.GetBytes("bad "), 0xC3, 0x28, 0xFF, .. Encoding.UTF8.GetBytes(" end")];
        var e = new LogEvent("b:1", "tcp", invalid, TestEvents.Base);
        await using (var sink = await DuckDbSink.OpenAsync(new DuckDbSinkOptions { Path = _path }))
        {
            await sink.WriteBatchAsync([e], default);
        }

        using var c = DuckDbSink.NewConnection(Path.GetFullPath(_path), 64L << 20, 1, readOnly: true);
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT body FROM events";
        Assert.Equal("bad \uFFFD(\uFFFD end", cmd.ExecuteScalar() as string);
    }

    [Fact]
    public async Task WriteBatchAsync_TableWithColumnsOutOfOrder_FailsNamingTheColumnAndStoresNothing()
    {
        await using (var sink = await DuckDbSink.OpenAsync(new DuckDbSinkOptions { Path = _path }))
        {
        }

        using (var c = DuckDbSink.NewConnection(Path.GetFullPath(_path), 64L << 20, 1, readOnly: false))
        {
            c.Open();
            DuckDbSchema.Execute(c, "ALTER TABLE events ALTER status TYPE BIGINT");
        }

        await using (var sink = await DuckDbSink.OpenAsync(new DuckDbSinkOptions { Path = _path }))
        {
            var error = await Assert.ThrowsAsync<Conveyor.Logs.Sinks.SinkException>(async () => await sink.WriteBatchAsync(TestEvents.Batch("x", 3), default));
            Assert.Contains("events.status", error.Message, StringComparison.Ordinal);
            Assert.False(error.IsTransient);
        }

        Assert.Equal(0, DuckDbTestDb.Scalar(_path, "SELECT count(*) FROM events"));
    }
}
