using System.Diagnostics;
using System.Globalization;
using Conveyor.Logs.Model;
using Conveyor.Logs.Sinks.DuckDb;
using DuckDB.NET.Data;

namespace Conveyor.Benchmarks.Storage;

/// <summary>
/// The DuckDB store against its ceiling (issue 10): a raw Appender loop into a table of the same typed columns
/// (no idempotence, no JSON column) and the sink, on the same events, one transaction per batch, for each batch size.
/// The ratio sink / raw of the best rounds is the figure; both run in this process, alternating.
///   dotnet run -c Release --project bench/Conveyor.Benchmarks -- duckdb [--events 1000000] [--batches 1000,10000,100000] [--rounds 2] [--threads N]
/// </summary>
internal static class DuckDbBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        var events = StorageBench.IntArg(args, "--events", 1_000_000);
        var rounds = StorageBench.IntArg(args, "--rounds", 2);
        var threads = StorageBench.IntArg(args, "--threads", DuckDbSinkOptions.DefaultThreads);
        var batches = (StorageBench.StringArg(args, "--batches") ?? "1000,10000,100000").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        var folder = Path.Combine(Path.GetTempPath(), "conveyor-duckbench-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(folder);
        try
        {
            var data = StorageBench.Generate(events, 0);
            Console.Out.WriteLine($"# {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, {events} events, best of {rounds}, {threads} DuckDB threads; load {File.ReadAllText("/proc/loadavg").Trim()}");
            foreach (var batch in batches)
            {
                double raw = 0, rawJson = 0, rawVarchar = 0, sink = 0;
                for (var r = 0; r < rounds; r++)
                {
                    raw = Math.Max(raw, Raw(Path.Combine(folder, $"raw-{batch}-{r}.duckdb"), data, batch, null, threads));
                    rawJson = Math.Max(rawJson, Raw(Path.Combine(folder, $"rawj-{batch}-{r}.duckdb"), data, batch, "JSON", threads));
                    rawVarchar = Math.Max(rawVarchar, Raw(Path.Combine(folder, $"rawv-{batch}-{r}.duckdb"), data, batch, "VARCHAR", threads));
                    sink = Math.Max(sink, await SinkAsync(Path.Combine(folder, $"sink-{batch}-{r}.duckdb"), data, batch, threads));
                }

                Console.Out.WriteLine(
                    $"batch {batch,7}: raw appender {raw,9:N0} rows/s (+ attributes as JSON {rawJson,9:N0}, as VARCHAR {rawVarchar,9:N0}), sink {sink,9:N0} rows/s, sink/raw {sink / raw:F2}");
            }

            return 0;
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>The ceiling: typed columns straight from the event, plus (when <paramref name="attributesType"/> is given) a
    /// constant-shape attributes document of that column type, to show what the column type costs.</summary>
    private static double Raw(string path, List<LogEvent> data, int batch, string? attributesType, int threads)
    {
        using var connection = new DuckDBConnection($"Data Source={path};threads={threads};memory_limit=256MB");
        connection.Open();
        using (var cmd = connection.CreateCommand())
        {
            cmd.CommandText = "CREATE TABLE events (ts TIMESTAMP, severity_number INTEGER, status INTEGER, method VARCHAR, client VARCHAR, url VARCHAR, user_agent VARCHAR, source VARCHAR, id VARCHAR, body VARCHAR"
                + (attributesType is null ? ")" : $", attributes {attributesType})");
            cmd.ExecuteNonQuery();
        }

        var sw = Stopwatch.StartNew();
        for (var start = 0; start < data.Count; start += batch)
        {
            using var tx = connection.BeginTransaction();
            using (var appender = connection.CreateAppender("events"))
            {
                foreach (var e in data.GetRange(start, Math.Min(batch, data.Count - start)))
                {
                    var row = appender.CreateRow()
                        .AppendValue(e.EffectiveTimestamp.UtcDateTime)
                        .AppendValue((int)e.SeverityNumber)
                        .AppendValue(e.Attributes.TryGetInt64(SemanticNames.HttpResponseStatusCode, out var status) ? (int?)status : null)
                        .AppendValue(e.Attributes.TryGetString(SemanticNames.HttpRequestMethod, out var httpRequestMethod) ? httpRequestMethod : null)
                        .AppendValue(e.Attributes.TryGetString(SemanticNames.ClientAddress, out var clientAddress) ? clientAddress : null)
                        .AppendValue(e.Attributes.TryGetString(SemanticNames.UrlOriginal, out var urlOriginal) ? urlOriginal : null)
                        .AppendValue(e.Attributes.TryGetString(SemanticNames.UserAgentOriginal, out var userAgentOriginal) ? userAgentOriginal : null)
                        .AppendValue(e.Source)
                        .AppendValue(e.Id)
                        .AppendValue(e.Body);
                    if (attributesType is not null)
                    {
                        row.AppendValue(string.Create(CultureInfo.InvariantCulture, $"{{\"network.protocol.name\":\"http\",\"network.protocol.version\":\"1.1\",\"http.response.body.size\":{e.Body.Length}}}"));
                    }

                    row.EndRow();
                }
            }

            tx.Commit();
        }

        return data.Count / sw.Elapsed.TotalSeconds;
    }

    private static async Task<double> SinkAsync(string path, List<LogEvent> data, int batch, int threads)
    {
        var sw = Stopwatch.StartNew();
        await using (var sink = await DuckDbSink.OpenAsync(new DuckDbSinkOptions { Path = path, Threads = threads }))
        {
            for (var start = 0; start < data.Count; start += batch)
            {
                await sink.WriteBatchAsync(data.GetRange(start, Math.Min(batch, data.Count - start)), CancellationToken.None);
            }
        }

        return data.Count / sw.Elapsed.TotalSeconds;
    }
}
