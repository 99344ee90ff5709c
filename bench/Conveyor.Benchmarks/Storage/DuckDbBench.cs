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
/// The writers spike (issue 10: do two connections of one instance, appending in parallel, store more rows per second than
/// one?): the sink's prepared rows (<see cref="DuckDbBatch"/>, all prepared before the clock starts) of the real schema,
/// appended in transactions of --batch rows by 1 and by 2 connections (each its own thread), alternating:
///   dotnet run -c Release --project bench/Conveyor.Benchmarks -- duckdb writers [--events 2000000] [--batch 16384] [--rounds 2] [--threads N] [--writers 1,2]
/// </summary>
internal static class DuckDbBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        if (args is ["writers", ..])
        {
            return Writers(args[1..]);
        }

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

    private static int Writers(string[] args)
    {
        var events = StorageBench.IntArg(args, "--events", 2_000_000);
        var batch = StorageBench.IntArg(args, "--batch", DuckDbStoreConnection.RowGroupSize);
        var rounds = StorageBench.IntArg(args, "--rounds", 2);
        var threads = StorageBench.IntArg(args, "--threads", DuckDbSinkOptions.DefaultThreads);
        // The order within a round (--writers 2,1 reverses it), to see whether a drifting load favours the later run.
        var order = (StorageBench.StringArg(args, "--writers") ?? "1,2").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        var folder = Path.Combine(Path.GetTempPath(), "conveyor-duckbench-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(folder);
        try
        {
            var data = StorageBench.Generate(events, 0);
            var batches = new List<(List<LogEvent> Events, DuckDbBatch.Buffers Buffers)>();
            var allocated0 = GC.GetTotalAllocatedBytes(precise: true);
            for (var start = 0; start < data.Count; start += batch)
            {
                var slice = data.GetRange(start, Math.Min(batch, data.Count - start));
                var buffers = new DuckDbBatch.Buffers();
                DuckDbBatch.Prepare(slice, buffers, CancellationToken.None);
                batches.Add((slice, buffers));
            }

            var prepareBytes = (GC.GetTotalAllocatedBytes(precise: true) - allocated0) / (double)data.Count;

            Console.Out.WriteLine($"# {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, {events} events in transactions of {batch}, {threads} DuckDB threads, checkpoint threshold {DuckDbSinkOptions.DefaultCheckpointThreshold >> 20} MiB; preparation allocated {prepareBytes:F0} bytes per row (the buffers included)");
            for (var r = 0; r < rounds; r++)
            {
                foreach (var writers in order)
                {
                    var load = File.ReadAllText("/proc/loadavg").Trim();
                    var (rate, cpu) = WriteWith(Path.Combine(folder, $"w{writers}-{r}.duckdb"), batches, writers, threads);
                    var rows = StoredRows(Path.Combine(folder, $"w{writers}-{r}.duckdb"), threads);
                    Console.Out.WriteLine($"round {r + 1}, {writers} writer(s): {rate,9:N0} rows/s, {cpu,6:F2} CPU s, {rows} rows stored, {new FileInfo(Path.Combine(folder, $"w{writers}-{r}.duckdb")).Length / (double)rows:F1} bytes per row on disk; load before {load}");
                }
            }

            return 0;
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>Appends every prepared batch through <paramref name="writers"/> connections of one instance, each on its own
    /// thread taking the next batch; the clock and the process CPU cover the appends, commits and a final checkpoint.</summary>
    private static (double Rate, double CpuSeconds) WriteWith(string path, List<(List<LogEvent> Events, DuckDbBatch.Buffers Buffers)> batches, int writers, int threads)
    {

        var connections = new DuckDBConnection[writers];
        for (var i = 0; i < writers; i++)
        {
            connections[i] = DuckDbSink.NewConnection(Path.GetFullPath(path), DuckDbSinkOptions.DefaultMemoryLimit, threads, readOnly: false, DuckDbSinkOptions.DefaultCheckpointThreshold);
            connections[i].Open();
            if (i == 0)
            {
                DuckDbSchema.Migrate(connections[0]);
            }
        }

        var rows = batches.Sum(b => b.Buffers.Count);
        var next = -1;
        var allocated0 = GC.GetTotalAllocatedBytes(precise: true);
        using var process = Process.GetCurrentProcess();
        var cpu0 = process.TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        var workers = connections.Select(connection => new Thread(() =>
        {
            for (int k; (k = Interlocked.Increment(ref next)) < batches.Count;)
            {
                var (events, buffers) = batches[k];
                using var tx = connection.BeginTransaction();
                using (var appender = EventAppender.Create(connection))
                {
                    var text = buffers.Text.WrittenSpan;
                    for (var i = 0; i < buffers.Count; i++)
                    {
                        appender.Append(in buffers.Rows[i], text);
                    }

                    appender.Close();
                }

                tx.Commit();
            }
        })).ToList();
        workers.ForEach(t => t.Start());
        workers.ForEach(t => t.Join());
        DuckDbSchema.Execute(connections[0], "CHECKPOINT");
        var elapsed = sw.Elapsed.TotalSeconds;
        process.Refresh();
        var cpu = (process.TotalProcessorTime - cpu0).TotalSeconds;
        Console.Out.WriteLine($"  appends allocated {(GC.GetTotalAllocatedBytes(precise: true) - allocated0) / (double)rows:F0} bytes per row");
        foreach (var c in connections)
        {
            c.Dispose();
        }

        return (rows / elapsed, cpu);
    }

    private static long StoredRows(string path, int threads)
    {
        using var connection = DuckDbSink.NewConnection(Path.GetFullPath(path), DuckDbSinkOptions.DefaultMemoryLimit, threads, readOnly: false);
        connection.Open();
        return DuckDbSchema.Scalar(connection, "SELECT count(DISTINCT id) FROM events");
    }
}
