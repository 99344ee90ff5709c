// The raw-store ceilings of bench/e2e (issue 6): how fast the same rows go into the same table with nothing else
// in the way. The input lines are parsed and enriched by Conveyor's own parser and enrichers, and turned into
// column values, before the clock starts; the timed part is the bare write loop:
//   sqlite PATH INPUT LINES    prepared single-row INSERT, one transaction per 10,000 rows, into the schema
//                              SqliteSink creates (same columns, indexes and full-text trigger)
//   sqlite-nofts PATH INPUT LINES  the same without the full-text trigger (a diagnostic: what the FTS5 trigram index
//                              costs); with LINES 0 it only prepares such a database for conveyor to write into
//   pgcopy CONNSTR INPUT LINES Npgsql binary COPY, one COPY (and transaction) per 10,000 rows, straight into the
//                              events table of the PostgreSQL store (same columns, indexes and day partitions)
// INPUT is replayed (with a fresh id per row) until LINES rows are written. Prints one JSON object.
using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Conveyor.Logs.Enrichment;
using Conveyor.Logs.Model;
using Conveyor.Logs.Parsing;
using Conveyor.Logs.Sinks;
using Conveyor.Logs.Sinks.Postgres;
using Conveyor.Logs.Sinks.Sqlite;
using Microsoft.Data.Sqlite;
using Npgsql;
using NpgsqlTypes;

const int RowsPerTransaction = 10_000;

if (args.Length != 4 || args[0] is not ("sqlite" or "sqlite-nofts" or "pgcopy"))
{
    Console.Error.WriteLine("usage: e2e-raw-store sqlite|sqlite-nofts PATH INPUT LINES | pgcopy CONNSTR INPUT LINES");
    return 2;
}

var target = args[1];
var lines = long.Parse(args[3], CultureInfo.InvariantCulture);
var rows = Row.Load(args[2]);
var clock = Stopwatch.StartNew();
var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
long written = args[0] == "pgcopy"
    ? await PgCopy.WriteAsync(target, rows, lines, RowsPerTransaction)
    : await Sqlite.WriteAsync(target, rows, lines, RowsPerTransaction, fullText: args[0] == "sqlite");
var seconds = clock.Elapsed.TotalSeconds;
using var self = Process.GetCurrentProcess();
Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
{
    ["mode"] = args[0],
    ["rows"] = written,
    ["elapsed_s"] = Math.Round(seconds, 3),
    ["rows_per_s"] = Math.Round(written / seconds),
    ["cpu_s"] = Math.Round((self.TotalProcessorTime - cpu0).TotalSeconds, 2),
    ["peak_rss_mib"] = Math.Round(self.PeakWorkingSet64 / 1048576.0, 1),
}));
return 0;

/// <summary>One event as the stores' columns (see StoredEvent and SqliteSink.Bind).</summary>
internal sealed record Row(
    long Ts, int? TsOffset, long ObservedTs, int ObservedOffset, int Severity, string? SeverityText, long? Status,
    string? Method, string? Client, string? Url, string? UserAgent, string Source, string Body, string Attributes, string ColdAttributes)
{
    private const long UnixEpochTicks = 621_355_968_000_000_000;

    public static List<Row> Load(string path)
    {
        var parser = LogParsers.Create("combined");
        using var enrichers = EnricherChain.Create(new EnricherOptions());
        var json = new ArrayBufferWriter<byte>();
        var result = new List<Row>();
        var n = 0;
        foreach (var line in File.ReadLines(path))
        {
            n++;
            var observed = DateTimeOffset.UtcNow;
            var outcome = parser.Parse(Encoding.UTF8.GetBytes(line), new LineContext("tcp", "raw:" + n, observed));
            if (outcome.Event is not { } e)
            {
                continue;
            }

            enrichers.Apply(e);
            json.ResetWrittenCount();
            using (var w = new Utf8JsonWriter(json, LogEventJson.WriterOptions))
            {
                LogEventJson.WriteAttributes(w, e.Attributes);
            }

            var attributes = Encoding.UTF8.GetString(json.WrittenSpan);

            // PostgreSQL's jsonb holds only what no typed column does, as the sink writes it; SQLite holds every attribute.
            json.ResetWrittenCount();
            var hot = default(StoredEvent.HotColumns);
            using (var w = new Utf8JsonWriter(json, LogEventJson.WriterOptions))
            {
                StoredEvent.WriteColdAttributes(w, e.Attributes, ref hot);
            }

            var ts = e.EffectiveTimestamp;
            result.Add(new Row(
                Micros(ts), e.Timestamp is { } t ? (int)t.Offset.TotalMinutes : null, Micros(e.ObservedTimestamp), 0,
                e.SeverityNumber, e.SeverityText, Int(e, SemanticNames.HttpResponseStatusCode), Str(e, SemanticNames.HttpRequestMethod),
                Str(e, SemanticNames.ClientAddress), Str(e, SemanticNames.UrlOriginal), Str(e, SemanticNames.UserAgentOriginal),
                e.Source, e.Body, attributes, Encoding.UTF8.GetString(json.WrittenSpan)));
        }

        return result;
    }

    public static DateTimeOffset FromMicros(long micros) => new(UnixEpochTicks + (micros * 10), TimeSpan.Zero);

    private static long Micros(DateTimeOffset t) => (t.UtcTicks - UnixEpochTicks) / 10;

    private static string? Str(LogEvent e, string key) => e.Attributes.TryGetValue(key, out var v) ? v?.ToString() : null;

    private static long? Int(LogEvent e, string key) => e.Attributes.TryGetValue(key, out var v) && v is long l ? l : null;
}

internal static class Sqlite
{
    public static async Task<long> WriteAsync(string path, List<Row> rows, long lines, int perTransaction, bool fullText)
    {
        // The sink creates the schema (and sets WAL), so the table is exactly the one conveyor writes.
        await (await SqliteSink.OpenAsync(new SqliteSinkOptions { Path = path })).DisposeAsync();
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        connection.Open();
        using (var pragma = connection.CreateCommand())
        {
            pragma.CommandText = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL" + (fullText ? string.Empty : "; DROP TRIGGER events_fts_insert");
            pragma.ExecuteNonQuery();
        }

        using var cmd = connection.CreateCommand();
        cmd.CommandText = "INSERT OR IGNORE INTO events (id, ts, ts_offset, observed_ts, observed_offset, severity_number, severity_text, "
            + "status, method, client, url, user_agent, source, body, attributes, resource) VALUES "
            + "($id, $ts, $tso, $ots, $oto, $sev, $sevt, $status, $method, $client, $url, $ua, $source, $body, $attrs, NULL)";
        var p = new SqliteParameter[15];
        string[] names = ["$id", "$ts", "$tso", "$ots", "$oto", "$sev", "$sevt", "$status", "$method", "$client", "$url", "$ua", "$source", "$body", "$attrs"];
        for (var i = 0; i < names.Length; i++)
        {
            p[i] = cmd.Parameters.Add(new SqliteParameter(names[i], DBNull.Value));
        }

        cmd.Prepare();
        long n = 0;
        while (n < lines)
        {
            using var tx = connection.BeginTransaction();
            cmd.Transaction = tx;
            for (var k = 0; k < perTransaction && n < lines; k++, n++)
            {
                var r = rows[(int)(n % rows.Count)];
                p[0].Value = "raw:" + n.ToString(CultureInfo.InvariantCulture);
                p[1].Value = r.Ts;
                p[2].Value = (object?)r.TsOffset ?? DBNull.Value;
                p[3].Value = r.ObservedTs;
                p[4].Value = r.ObservedOffset;
                p[5].Value = r.Severity;
                p[6].Value = (object?)r.SeverityText ?? DBNull.Value;
                p[7].Value = (object?)r.Status ?? DBNull.Value;
                p[8].Value = (object?)r.Method ?? DBNull.Value;
                p[9].Value = (object?)r.Client ?? DBNull.Value;
                p[10].Value = (object?)r.Url ?? DBNull.Value;
                p[11].Value = (object?)r.UserAgent ?? DBNull.Value;
                p[12].Value = r.Source;
                p[13].Value = r.Body;
                p[14].Value = r.Attributes;
                cmd.ExecuteNonQuery();
            }

            tx.Commit();
        }

        return n;
    }
}

internal static class PgCopy
{
    // The events table of the PostgreSQL store exactly as the sink makes it (its migrations: the day being written
    // has the primary key and BRIN only; closed days get their query indexes later, outside the write path).

    public static async Task<long> WriteAsync(string connectionString, List<Row> rows, long lines, int perTransaction)
    {
        await (await PostgresSink.OpenAsync(new PostgresSinkOptions { ConnectionString = connectionString, PartitionDaysAhead = 0 })).DisposeAsync();
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        foreach (var day in rows.Select(r => DateOnly.FromDateTime(Row.FromMicros(r.Ts).UtcDateTime)).Distinct())
        {
            await ExecuteAsync(connection, string.Create(
                CultureInfo.InvariantCulture,
                $"CREATE TABLE IF NOT EXISTS events_p{day:yyyyMMdd} PARTITION OF events FOR VALUES FROM ('{day:yyyy-MM-dd} 00:00:00+00') TO ('{day.AddDays(1):yyyy-MM-dd} 00:00:00+00')"));
        }

        await ExecuteAsync(connection, "TRUNCATE events");
        long n = 0;
        while (n < lines)
        {
            await using var tx = await connection.BeginTransactionAsync();
            await using (var copy = await connection.BeginBinaryImportAsync(
                "COPY events (id, ts, ts_offset, observed_ts, observed_offset, severity_number, severity_text, status, method, client, url, user_agent, source, body, attributes) FROM STDIN (FORMAT BINARY)"))
            {
                for (var k = 0; k < perTransaction && n < lines; k++, n++)
                {
                    var r = rows[(int)(n % rows.Count)];
                    await copy.StartRowAsync();
                    await copy.WriteAsync("raw:" + n.ToString(CultureInfo.InvariantCulture), NpgsqlDbType.Text);
                    await copy.WriteAsync(Row.FromMicros(r.Ts), NpgsqlDbType.TimestampTz);
                    await WriteNullableAsync(copy, r.TsOffset, NpgsqlDbType.Integer);
                    await copy.WriteAsync(Row.FromMicros(r.ObservedTs), NpgsqlDbType.TimestampTz);
                    await copy.WriteAsync(r.ObservedOffset, NpgsqlDbType.Integer);
                    await copy.WriteAsync(r.Severity, NpgsqlDbType.Integer);
                    await WriteNullableAsync(copy, r.SeverityText);
                    await WriteNullableAsync(copy, r.Status is { } s ? (int)s : null, NpgsqlDbType.Integer);
                    await WriteNullableAsync(copy, r.Method);
                    await WriteNullableAsync(copy, r.Client);
                    await WriteNullableAsync(copy, r.Url);
                    await WriteNullableAsync(copy, r.UserAgent);
                    await copy.WriteAsync(r.Source, NpgsqlDbType.Text);
                    await copy.WriteAsync(r.Body, NpgsqlDbType.Text);
                    await copy.WriteAsync(r.ColdAttributes, NpgsqlDbType.Jsonb);
                }

                await copy.CompleteAsync();
            }

            await tx.CommitAsync();
        }

        return n;
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql)
    {
        await using var cmd = new NpgsqlCommand(sql, connection);
        await cmd.ExecuteNonQueryAsync();
    }

    private static Task WriteNullableAsync(NpgsqlBinaryImporter copy, string? value) =>
        value is null ? copy.WriteNullAsync() : copy.WriteAsync(value, NpgsqlDbType.Text);

    private static Task WriteNullableAsync(NpgsqlBinaryImporter copy, int? value, NpgsqlDbType type) =>
        value is { } v ? copy.WriteAsync(v, type) : copy.WriteNullAsync();
}
