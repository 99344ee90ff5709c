using System.Text;
using Conveyor.Logs.Model;
using Conveyor.Logs.Query;
using Conveyor.Logs.Sinks;
using Conveyor.Logs.Sinks.Postgres;
using Conveyor.Logs.Tests.Support;

namespace Conveyor.Logs.Tests.Sinks.Postgres;

/// <summary>
/// The PostgreSQL sink's own binary COPY rows (<see cref="CopyRows"/>): every column of every row reads back as it
/// was written, over both COPY streams, with NULLs at shifting rows, times before 2000 and 1970 in several offsets,
/// bodies that arrive as UTF-8 bytes, as bytes that are not UTF-8, and as strings, and non-ASCII everywhere.
/// </summary>
public sealed class CopyRowsTests
{
    private static List<LogEvent> Events()
    {
        var events = new List<LogEvent>();
        for (var i = 0; i < 1_500; i++)
        {
            var observed = TestEvents.Base.AddTicks(i * 10_010L * 10);
            var e = (i % 4) switch
            {
                0 => new LogEvent($"c:{i}", "tcp", Encoding.UTF8.GetBytes($"bytes line {i} caf\u00e9 \U0001F600"), observed),
                1 when i % 3 == 0 => new LogEvent($"c:{i}", "tcp", [0x6E, 0x6F, 0x74, 0x20, 0xC3, 0x28, (byte)'0' /* not UTF-8 */], observed),
                _ => new LogEvent($"c:{i}", "syslog", $"string line {i} \u00fc\u4e2d", observed),
            };
            if (i % 3 != 0)
            {
                e.Timestamp = i % 10 == 1
                    ? new DateTimeOffset(1969, 12, 31, 23, 59, 59, TimeSpan.FromHours(5)).AddTicks(-10 * (i % 7))
                    : i % 10 == 2
                        ? new DateTimeOffset(1999, 12, 31, 23, 0, 0, TimeSpan.FromMinutes(-90)).AddTicks(10 * i)
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
                e.Attributes.Set(SemanticNames.UrlOriginal, $"/item/{i}?q=\u00fc");
            }

            if (i % 7 != 0)
            {
                e.Attributes.Set(SemanticNames.ClientAddress, $"10.0.{i % 256}.1");
                e.Attributes.Set(SemanticNames.UserAgentOriginal, "Mozilla/5.0 (X11; Linux x86_64) " + new string('u', i % 40));
            }

            e.Attributes.Set("n", (long)i);
            e.Attributes.Set("ratio", i / 8.0);
            e.Attributes.Set("quoted", "a \"b\" \\ c\t\u00e9");
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
                e.Resource.Set("host.id", (long)i);
            }

            events.Add(e);
        }

        return events;
    }

    [Fact]
    public async Task WriteBatchAsync_MixedRowsOverTwoStreams_EveryColumnReadsBackAsWritten()
    {
        var cs = await PostgresTestServer.CreateSchemaAsync();
        var events = Events();
        await using (var sink = await PostgresSink.OpenAsync(new PostgresSinkOptions { ConnectionString = cs, CopyStreams = 2 }))
        {
            await sink.WriteBatchAsync(events, default);
        }

        await using var store = LogStore.Open("postgres:" + cs);
        var back = (await store.SearchAsync(new LogQuery(null, Limit: 10_000))).Events.ToDictionary(e => e.Id);
        Assert.Equal(events.Count, back.Count);
        foreach (var e in events)
        {
            Assert.Equal(EventJson.WithAttributeSets(e), EventJson.WithAttributeSets(back[e.Id]));
        }

        // The columns themselves: NULL exactly where the event has no value, times as the server reads them.
        Assert.Equal(events.Count(e => e.TraceId is null), await PostgresTestServer.ScalarAsync(cs, "SELECT count(*) FROM events WHERE trace_id IS NULL"));
        Assert.Equal(events.Count(e => e.TraceFlags is null), await PostgresTestServer.ScalarAsync(cs, "SELECT count(*) FROM events WHERE trace_flags IS NULL"));
        Assert.Equal(events.Count(e => e.Timestamp is null), await PostgresTestServer.ScalarAsync(cs, "SELECT count(*) FROM events WHERE ts_offset IS NULL"));
        Assert.Equal(events.Count(e => !e.HasResource), await PostgresTestServer.ScalarAsync(cs, "SELECT count(*) FROM events WHERE resource IS NULL"));
        Assert.Equal(events.Count(e => e.SeverityText is null), await PostgresTestServer.ScalarAsync(cs, "SELECT count(*) FROM events WHERE severity_text IS NULL"));
        Assert.Equal(events.Count(e => e.Body.Contains('\uFFFD', StringComparison.Ordinal)), await PostgresTestServer.ScalarAsync(cs, "SELECT count(*) FROM events WHERE body LIKE 'not %'"));
        Assert.Equal(-1, await PostgresTestServer.ScalarAsync(cs, "SELECT (extract(epoch FROM ts) * 1000000 - extract(epoch FROM timestamptz '1969-12-31 18:59:59+00') * 1000000)::bigint FROM events WHERE id = 'c:1'"));
        Assert.Equal(
            events.Count(e => e.Attributes.TryGetValue(SemanticNames.UserAgentOriginal, out _)),
            await PostgresTestServer.ScalarAsync(cs, "SELECT count(*) FROM events WHERE user_agent LIKE 'Mozilla/5.0 (X11; Linux x86_64) %'"));
        Assert.Equal(events.Count, await store.CountAsync(new LogQuery("n >= 0")));
        Assert.Equal(events.Count(e => e.Body.Contains('\u00e9', StringComparison.Ordinal)), await store.CountAsync(new LogQuery("café")));
    }

    [Fact]
    public async Task WriteBatchAsync_LoneSurrogateInText_StoredAsReplacementCharacter()
    {
        var cs = await PostgresTestServer.CreateSchemaAsync();
        var e = TestEvents.Access("s", 1);
        e.Attributes.Set(SemanticNames.UrlOriginal, "/a\uD800b");
        await using (var sink = await PostgresSink.OpenAsync(new PostgresSinkOptions { ConnectionString = cs }))
        {
            await sink.WriteBatchAsync([e], default);
        }

        await using var store = LogStore.Open("postgres:" + cs);
        var back = Assert.Single((await store.SearchAsync(new LogQuery(null))).Events);
        Assert.True(back.Attributes.TryGetString(SemanticNames.UrlOriginal, out var url));
        Assert.Equal("/a\uFFFDb", url);
    }

    [Fact]
    public async Task ColdKeys_KeysSetInAnyOrder_GiveTheOrderJsonbKeepsWithoutTheHotOnes()
    {
        // Keys of random lengths over a two-letter alphabet, so that many tie on length and are ordered by their bytes;
        // every other event repeats the previous one's keys (the same strings), which the order kept for the last row
        // must serve, once with its status turned from a column value into a cold string attribute.
        var random = new Random(20261204);
        var pool = Enumerable.Range(0, 40).Select(_ => new string([.. Enumerable.Range(0, random.Next(1, 6)).Select(_ => random.Next(2) == 0 ? 'a' : 'b')])).Distinct().ToArray();
        var events = new List<LogEvent>();
        for (var i = 0; i < 80; i++)
        {
            var e = TestEvents.Access("k", i);
            var keys = i % 2 == 1 ? events[i - 1].Attributes.Select(a => a.Key).Skip(5).ToArray() : pool.OrderBy(_ => random.Next()).Take(random.Next(0, 20)).ToArray();
            foreach (var key in keys)
            {
                e.Attributes.Set(key, (long)i);
            }

            if (i == 41)
            {
                e.Attributes.Set(SemanticNames.HttpResponseStatusCode, "not a number");
            }

            events.Add(e);
        }

        // Past 64 attributes the hot ones are found again by the order itself: a hot attribute set 71st stays out.
        var wide = TestEvents.Access("wide", 0);
        wide.Attributes.Remove(SemanticNames.ClientAddress);
        for (var k = 0; k < 70; k++)
        {
            wide.Attributes.Set($"w{k}", (long)k);
        }

        wide.Attributes.Set(SemanticNames.ClientAddress, "10.9.9.9");
        events.Add(wide);

        var coldKeys = new CopyRows.ColdKeys();
        var written = new List<string[]>();
        foreach (var e in events)
        {
            var hot = default(StoredEvent.HotColumns);
            var hotAt = CopyRows.TakeHot(e.Attributes, ref hot);

            var keys = coldKeys.Of(e.Attributes, hotAt).ToArray().Select(i => e.Attributes.At(i).Key).ToArray();
            Assert.DoesNotContain(SemanticNames.ClientAddress, keys);
            Assert.Equal(e == events[41], keys.Contains(SemanticNames.HttpResponseStatusCode));
            Assert.Equal(e.Attributes.Count(a => !StoredEvent.TakeHot(a, ref hot)), keys.Length);
            written.Add(keys);
        }

        var cs = await PostgresTestServer.CreateSchemaAsync();
        await using (var sink = await PostgresSink.OpenAsync(new PostgresSinkOptions { ConnectionString = cs }))
        {
            await sink.WriteBatchAsync(events, default);
        }

        await using var c = new Npgsql.NpgsqlConnection(cs);
        await c.OpenAsync();
        for (var i = 0; i < events.Count; i++)
        {
            await using var cmd = new Npgsql.NpgsqlCommand("SELECT ARRAY(SELECT jsonb_object_keys(attributes)) FROM events WHERE id = @id", c);
            cmd.Parameters.AddWithValue("id", events[i].Id);
            Assert.Equal(written[i], (string[])(await cmd.ExecuteScalarAsync())!);
        }
    }
}
