using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using Conveyor.Logs.Model;
using Conveyor.Logs.Query;
using Conveyor.Logs.Sinks;
using Conveyor.Logs.Sinks.Postgres;
using Conveyor.Logs.Sinks.Sqlite;
using Microsoft.Data.Sqlite;
using Npgsql;
using NpgsqlTypes;

namespace Conveyor.Benchmarks.Storage;

/// <summary>
/// Storage and query figures for docs/BENCHMARKS.md (issue 4). Big data sets do not suit BenchmarkDotNet's
/// many iterations, so this is a console mode; each comparison runs baseline and sink in the same process on the
/// same events, alternating, and the ratio of the best rounds is what counts on a shared machine.
///   dotnet run -c Release --project bench/Conveyor.Benchmarks -- storage [--events 200000] [--rows 1000000] [--postgres CONNSTR]
/// </summary>
internal static class StorageBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        var events = IntArg(args, "--events", 200_000);
        var rows = IntArg(args, "--rows", 1_000_000);
        var rounds = IntArg(args, "--rounds", 3);
        var pg = StringArg(args, "--postgres") ?? Environment.GetEnvironmentVariable("CONVEYOR_TEST_POSTGRES");
        var folder = Path.Combine(Path.GetTempPath(), "conveyor-bench-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(folder);
        try
        {
            var data = Generate(events, 0);
            Report($"# {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, {events} events per write run, best of {rounds} rounds");

            double rawBest = double.MaxValue, sinkBest = double.MaxValue;
            for (var r = 0; r < rounds; r++)
            {
                rawBest = Math.Min(rawBest, await SqliteRawAsync(Path.Combine(folder, $"raw{r}.db"), data));
                sinkBest = Math.Min(sinkBest, await SqliteSinkAsync(Path.Combine(folder, $"sink{r}.db"), data));
            }

            Report($"sqlite raw loop (1 tx, prepared single-row INSERT): {Rate(events, rawBest)}");
            Report($"sqlite sink (batches of 1000):                      {Rate(events, sinkBest)}  ratio {rawBest / sinkBest:F2}");

            if (pg is not null)
            {
                double copyBest = double.MaxValue, pgSinkBest = double.MaxValue;
                for (var r = 0; r < rounds; r++)
                {
                    copyBest = Math.Min(copyBest, await PostgresRawCopyAsync(pg, data));
                    pgSinkBest = Math.Min(pgSinkBest, await PostgresSinkAsync(pg, data));
                }

                Report($"postgres raw binary COPY into events:              {Rate(events, copyBest)}");
                Report($"postgres sink (batches of 1000):                   {Rate(events, pgSinkBest)}  ratio {copyBest / pgSinkBest:F2}");
            }

            if (rows > 0)
            {
                await QueryAsync(Path.Combine(folder, "big.db"), rows);
            }

            return 0;
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static async Task QueryAsync(string path, int rows)
    {
        var sw = Stopwatch.StartNew();
        await using (var sink = await SqliteSink.OpenAsync(new SqliteSinkOptions { Path = path }))
        {
            for (var start = 0; start < rows; start += 100_000)
            {
                await sink.WriteBatchAsync(Generate(Math.Min(100_000, rows - start), start), default);
            }
        }

        Report($"loaded {rows} events into SQLite through the sink in {sw.Elapsed.TotalSeconds:F1} s ({rows / sw.Elapsed.TotalSeconds:F0}/s), file {new FileInfo(path).Length / (1 << 20)} MiB");
        await using var store = LogStore.Open("sqlite:" + path);
        var mid = Start.AddSeconds(rows / 2.0 / EventsPerSecond);
        var queries = new (string Name, LogQuery Query)[]
        {
            ("time range (1 h) + status = 500, limit 100", new LogQuery("status = 500", mid, mid.AddHours(1), 100)),
            ("time range (1 h) + status >= 500 count", new LogQuery("status >= 500", mid, mid.AddHours(1), 100)),
            ("full text 'segfault' (rare), limit 100", new LogQuery("segfault", Limit: 100)),
            ("full text 'Googlebot' (common), limit 100", new LogQuery("Googlebot", Limit: 100)),
            ("full text 'segfault' count", new LogQuery("segfault")),
        };
        foreach (var (name, q) in queries)
        {
            var times = new List<double>();
            long n = 0;
            for (var i = 0; i < 5; i++)
            {
                var t = Stopwatch.StartNew();
                n = name.EndsWith("count", StringComparison.Ordinal) ? await store.CountAsync(q) : (await store.SearchAsync(q)).Count;
                times.Add(t.Elapsed.TotalMilliseconds);
            }

            times.Sort();
            Report($"query {name}: median {times[2]:F1} ms (min {times[0]:F1}) over {rows} rows, {n} results");
        }
    }

    private static readonly DateTimeOffset Start = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
    private const double EventsPerSecond = 50;
    private static readonly string[] Urls = ["/", "/api/items", "/api/items/42?expand=1", "/login", "/static/app.js", "/search?q=shoes", "/cart", "/checkout"];
    private static readonly string[] Agents = ["Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0", "curl/8.5.0", "Mozilla/5.0 (compatible; Googlebot/2.1)", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0)"];

    /// <summary>Deterministic access-log events at 50 per second; one body in 10 000 contains 'segfault'.</summary>
    internal static List<LogEvent> Generate(int count, int offset)
    {
        var random = new Random(offset + 17);
        var list = new List<LogEvent>(count);
        for (var k = 0; k < count; k++)
        {
            var i = offset + k;
            var ts = Start.AddSeconds(i / EventsPerSecond);
            var roll = random.Next(100);
            var status = roll < 80 ? 200 : roll < 88 ? 304 : roll < 95 ? 404 : roll < 98 ? 500 : 503;
            var client = $"10.{random.Next(4)}.{random.Next(256)}.{random.Next(256)}";
            var url = Urls[random.Next(Urls.Length)];
            var ua = Agents[random.Next(Agents.Length)];
            var size = random.Next(100, 50_000);
            var body = string.Create(CultureInfo.InvariantCulture, $"{client} - - [{ts:dd/MMM/yyyy:HH:mm:ss} +0000] \"GET {url} HTTP/1.1\" {status} {size} \"-\" \"{ua}\"");
            if (i % 10_000 == 7)
            {
                body += " upstream segfault";
            }

            var e = new LogEvent(string.Create(CultureInfo.InvariantCulture, $"web:{i}"), "web", body, ts)
            {
                Timestamp = ts,
                SeverityNumber = status >= 500 ? Severity.Error : status >= 400 ? Severity.Warn : Severity.Info,
            };
            e.SeverityText = Severity.TextOf(e.SeverityNumber);
            e.Attributes.Set(SemanticNames.ClientAddress, client);
            e.Attributes.Set(SemanticNames.HttpRequestMethod, "GET");
            e.Attributes.Set(SemanticNames.UrlOriginal, url);
            e.Attributes.Set(SemanticNames.NetworkProtocolName, "http");
            e.Attributes.Set(SemanticNames.NetworkProtocolVersion, "1.1");
            e.Attributes.Set(SemanticNames.HttpResponseStatusCode, (long)status);
            e.Attributes.Set(SemanticNames.HttpResponseBodySize, (long)size);
            e.Attributes.Set(SemanticNames.UserAgentOriginal, ua);
            list.Add(e);
        }

        return list;
    }

    private static async Task<double> SqliteSinkAsync(string path, List<LogEvent> data)
    {
        await (await SqliteSink.OpenAsync(new SqliteSinkOptions { Path = path })).DisposeAsync();
        var sw = Stopwatch.StartNew();
        await using (var sink = new ResilientSink(await SqliteSink.OpenAsync(new SqliteSinkOptions { Path = path })))
        {
            for (var i = 0; i < data.Count; i += 1000)
            {
                await sink.WriteBatchAsync(data.GetRange(i, Math.Min(1000, data.Count - i)), default);
            }
        }

        return sw.Elapsed.TotalSeconds;
    }

    /// <summary>The baseline: the same schema, columns and values, one transaction, one prepared single-row INSERT.</summary>
    private static async Task<double> SqliteRawAsync(string path, List<LogEvent> data)
    {
        await (await SqliteSink.OpenAsync(new SqliteSinkOptions { Path = path })).DisposeAsync();
        var sw = Stopwatch.StartNew();
        using (var c = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            c.Open();
            using (var pragma = c.CreateCommand())
            {
                pragma.CommandText = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL";
                pragma.ExecuteNonQuery();
            }

            using var tx = c.BeginTransaction();
            using var cmd = c.CreateCommand();
            cmd.Transaction = tx;
            cmd.CommandText = "INSERT OR IGNORE INTO events (id, ts, ts_offset, observed_ts, observed_offset, severity_number, severity_text, status, method, client, url, user_agent, source, body, attributes, resource) "
                + "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)";
            var p = Enumerable.Range(1, 16).Select(i => cmd.Parameters.Add(new SqliteParameter("$" + i, DBNull.Value))).ToArray();
            cmd.Prepare();
            var json = new ArrayBufferWriter<byte>();
            foreach (var e in data)
            {
                p[0].Value = e.Id;
                p[1].Value = Micros(e.EffectiveTimestamp);
                p[2].Value = (int)e.Timestamp!.Value.Offset.TotalMinutes;
                p[3].Value = Micros(e.ObservedTimestamp);
                p[4].Value = 0;
                p[5].Value = e.SeverityNumber;
                p[6].Value = e.SeverityText;
                e.Attributes.TryGetInt64(SemanticNames.HttpResponseStatusCode, out var status);
                p[7].Value = status;
                p[8].Value = Attr(e, SemanticNames.HttpRequestMethod);
                p[9].Value = Attr(e, SemanticNames.ClientAddress);
                p[10].Value = Attr(e, SemanticNames.UrlOriginal);
                p[11].Value = Attr(e, SemanticNames.UserAgentOriginal);
                p[12].Value = e.Source;
                p[13].Value = e.Body;
                p[14].Value = Json(e, json);
                p[15].Value = DBNull.Value;
                cmd.ExecuteNonQuery();
            }

            tx.Commit();
        }

        return sw.Elapsed.TotalSeconds;
    }

    private static async Task<string> FreshSchemaAsync(string connectionString)
    {
        var schema = "bench_" + Guid.NewGuid().ToString("N")[..10];
        await using (var c = new NpgsqlConnection(connectionString))
        {
            await c.OpenAsync();
            await using var cmd = new NpgsqlCommand($"CREATE SCHEMA {schema}", c);
            await cmd.ExecuteNonQueryAsync();
        }

        var cs = new NpgsqlConnectionStringBuilder(connectionString) { SearchPath = schema }.ConnectionString;
        await (await PostgresSink.OpenAsync(new PostgresSinkOptions { ConnectionString = cs })).DisposeAsync();
        return cs;
    }

    private static async Task<double> PostgresSinkAsync(string connectionString, List<LogEvent> data)
    {
        var cs = await FreshSchemaAsync(connectionString);
        var sw = Stopwatch.StartNew();
        await using (var sink = new ResilientSink(await PostgresSink.OpenAsync(new PostgresSinkOptions { ConnectionString = cs })))
        {
            for (var i = 0; i < data.Count; i += 1000)
            {
                await sink.WriteBatchAsync(data.GetRange(i, Math.Min(1000, data.Count - i)), default);
            }
        }

        return sw.Elapsed.TotalSeconds;
    }

    /// <summary>The baseline: one binary COPY of the same rows straight into the (partitioned, indexed) events table.</summary>
    private static async Task<double> PostgresRawCopyAsync(string connectionString, List<LogEvent> data)
    {
        var cs = await FreshSchemaAsync(connectionString);
        await using var c = new NpgsqlConnection(cs);
        await c.OpenAsync();
        foreach (var day in data.Select(e => DateOnly.FromDateTime(e.EffectiveTimestamp.UtcDateTime)).Distinct())
        {
            await using var create = new NpgsqlCommand(
                string.Create(CultureInfo.InvariantCulture, $"CREATE TABLE IF NOT EXISTS events_p{day:yyyyMMdd} PARTITION OF events FOR VALUES FROM ('{day:yyyy-MM-dd}') TO ('{day.AddDays(1):yyyy-MM-dd}')"), c);
            await create.ExecuteNonQueryAsync();
        }

        var sw = Stopwatch.StartNew();
        var json = new ArrayBufferWriter<byte>();
        await using (var importer = await c.BeginBinaryImportAsync(
            "COPY events (id, ts, ts_offset, observed_ts, observed_offset, severity_number, severity_text, status, method, client, url, user_agent, source, body, attributes, resource) FROM STDIN (FORMAT BINARY)"))
        {
            foreach (var e in data)
            {
                await importer.StartRowAsync();
                await importer.WriteAsync(e.Id, NpgsqlDbType.Text);
                await importer.WriteAsync(e.EffectiveTimestamp.UtcDateTime, NpgsqlDbType.TimestampTz);
                await importer.WriteAsync((int)e.Timestamp!.Value.Offset.TotalMinutes, NpgsqlDbType.Integer);
                await importer.WriteAsync(e.ObservedTimestamp.UtcDateTime, NpgsqlDbType.TimestampTz);
                await importer.WriteAsync(0, NpgsqlDbType.Integer);
                await importer.WriteAsync(e.SeverityNumber, NpgsqlDbType.Integer);
                await importer.WriteAsync(e.SeverityText!, NpgsqlDbType.Text);
                e.Attributes.TryGetInt64(SemanticNames.HttpResponseStatusCode, out var status);
                await importer.WriteAsync((int)status, NpgsqlDbType.Integer);
                await importer.WriteAsync(Attr(e, SemanticNames.HttpRequestMethod), NpgsqlDbType.Text);
                await importer.WriteAsync(Attr(e, SemanticNames.ClientAddress), NpgsqlDbType.Text);
                await importer.WriteAsync(Attr(e, SemanticNames.UrlOriginal), NpgsqlDbType.Text);
                await importer.WriteAsync(Attr(e, SemanticNames.UserAgentOriginal), NpgsqlDbType.Text);
                await importer.WriteAsync(e.Source, NpgsqlDbType.Text);
                await importer.WriteAsync(e.Body, NpgsqlDbType.Text);
                await importer.WriteAsync(Json(e, json), NpgsqlDbType.Jsonb);
                await importer.WriteNullAsync();
            }

            await importer.CompleteAsync();
        }

        return sw.Elapsed.TotalSeconds;
    }

    private static string Attr(LogEvent e, string key) => e.Attributes.TryGetString(key, out var s) ? s : string.Empty;

    private static long Micros(DateTimeOffset t) => (t.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;

    private static string Json(LogEvent e, ArrayBufferWriter<byte> buffer)
    {
        buffer.ResetWrittenCount();
        using (var w = new System.Text.Json.Utf8JsonWriter(buffer, LogEventJson.WriterOptions))
        {
            LogEventJson.WriteAttributes(w, e.Attributes);
        }

        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static string Rate(int n, double seconds) => $"{n / seconds,9:F0} events/s ({seconds:F2} s)";

    private static void Report(string line) => Console.Out.WriteLine(line);

    internal static int IntArg(string[] args, string name, int fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }

    internal static string? StringArg(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}
