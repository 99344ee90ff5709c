using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Conveyor.Logs.Model;
using Conveyor.Logs.Query;
using Conveyor.Logs.Sinks;
using Conveyor.Logs.Sinks.DuckDb;

namespace Conveyor.Cli.Commands;

/// <summary>
/// <c>conveyor store export</c> (every event of a store as Parquet or NDJSON) and <c>conveyor store copy</c> (any store
/// to any store), SPEC §3. Both read the store's file or server directly, so a DuckDB store must not be held by a
/// running service; progress goes to stderr once a second, stdout carries only data.
/// </summary>
internal static class StoreCommand
{
    /// <summary>Events read and written per batch.</summary>
    private const int BatchSize = 5_000;

    public static Command Create(TimeProvider? timeProvider = null)
    {
        var time = timeProvider ?? TimeProvider.System;
        var command = new Command("store", "Move stored logs: export them to a file, or copy them to another store.");
        command.Subcommands.Add(CreateExport(time));
        command.Subcommands.Add(CreateCopy(time));
        return command;
    }

    private static Command CreateExport(TimeProvider time)
    {
        var store = new Option<string>("--store") { Description = "The store: duckdb:PATH, sqlite:PATH or postgres:CONNSTR", DefaultValueFactory = _ => LogStore.DefaultUri };
        var format = new Option<string>("--format") { Description = "parquet (columns as stored, zstd) or ndjson (the event JSON of 'conveyor parse', one line per event)", Required = true };
        var output = new Option<string>("--out") { Description = "The file to write, or - for stdout", DefaultValueFactory = _ => "-" };
        var since = new Option<string?>("--since") { Description = "Only events at or after: a duration back from now (15m, 2h, 7d) or an ISO-8601 time" };
        var until = new Option<string?>("--until") { Description = "Only events before this ISO-8601 time (or duration back from now)" };
        var command = new Command("export", "Export every event of a store (oldest first) as Parquet or NDJSON.") { store, format, output, since, until };
        command.SetAction((ParseResult r, CancellationToken ct) => ExportAsync(
            r.GetValue(store) ?? LogStore.DefaultUri, r.GetValue(format) ?? string.Empty, r.GetValue(output) ?? "-", r.GetValue(since), r.GetValue(until), Console.Error, time, ct));
        return command;
    }

    private static Command CreateCopy(TimeProvider time)
    {
        var from = new Option<string>("--from") { Description = "The store to read: duckdb:PATH, sqlite:PATH or postgres:CONNSTR", Required = true };
        var to = new Option<string>("--to") { Description = "The store to write: duckdb:PATH, sqlite:PATH, postgres:CONNSTR or ndjson:PATH; writes are idempotent, so a copy run twice stores once", Required = true };
        var command = new Command("copy", "Copy every event and dead letter of one store into another, with progress.") { from, to };
        command.SetAction((ParseResult r, CancellationToken ct) => CopyAsync(r.GetValue(from) ?? string.Empty, r.GetValue(to) ?? string.Empty, Console.Error, time, ct));
        return command;
    }

    internal static async Task<int> ExportAsync(string storeUri, string format, string output, string? since, string? until, TextWriter stderr, TimeProvider time, CancellationToken ct)
    {
        if (format is not ("parquet" or "ndjson"))
        {
            await stderr.WriteLineAsync($"error: --format must be parquet or ndjson (was '{format}')").ConfigureAwait(false);
            return QueryCommand.UsageError;
        }

        if (!TryWindow(since, until, time, stderr, out var from, out var to))
        {
            return QueryCommand.UsageError;
        }

        try
        {
            await using var store = LogStore.Open(storeUri);
            var progress = new Progress(stderr, "exported", time);
            if (format == "ndjson")
            {
                var stream = output == "-" ? Console.OpenStandardOutput() : File.Create(output);
                await using (stream.ConfigureAwait(false))
                {
                    await using var writer = new Utf8JsonWriter(stream, LogEventJson.WriterOptions);
                    var newline = "\n"u8.ToArray();
                    await foreach (var e in store.ReadEventsAsync(from, to, ct).ConfigureAwait(false))
                    {
                        LogEventJson.Write(writer, e);
                        await writer.FlushAsync(ct).ConfigureAwait(false);
                        writer.Reset();
                        stream.Write(newline);
                        progress.Add(1);
                    }
                }
            }
            else
            {
                await ExportParquetAsync(storeUri, store, output, from, to, progress, ct).ConfigureAwait(false);
            }

            progress.Done();
            return 0;
        }
        catch (Exception e) when (e is LogStoreNotFoundException or LogStoreUnavailableException or ArgumentException or IOException or UnauthorizedAccessException or System.Data.Common.DbException or SinkException)
        {
            await stderr.WriteLineAsync($"error: {e.Message}").ConfigureAwait(false);
            return QueryCommand.StoreError;
        }
    }

    /// <summary>
    /// DuckDB writes Parquet natively: a DuckDB store is exported with one <c>COPY … TO</c>; any other store is first
    /// copied into a temporary DuckDB file, so every export has the same columns.
    /// </summary>
    private static async Task ExportParquetAsync(string storeUri, ILogStore store, string output, DateTimeOffset? from, DateTimeOffset? to, Progress progress, CancellationToken ct)
    {
        var temp = Path.Combine(Path.GetTempPath(), "conveyor-export-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(temp);
        try
        {
            string database;
            if (storeUri.StartsWith("duckdb:", StringComparison.OrdinalIgnoreCase) && store is not HttpLogStore)
            {
                database = Path.GetFullPath(storeUri["duckdb:".Length..]);
            }
            else
            {
                database = Path.Combine(temp, "staging.duckdb");
                await using var staging = await DuckDbSink.OpenAsync(new DuckDbSinkOptions { Path = database }, cancellationToken: ct).ConfigureAwait(false);
                await CopyEventsAsync(store, staging, from, to, new Progress(TextWriter.Null, "staged", TimeProvider.System), ct).ConfigureAwait(false);
                from = to = null;
            }

            var target = output == "-" ? Path.Combine(temp, "export.parquet") : output;
            progress.Add(DuckDbParquet.Export(database, target, from, to));

            if (output == "-")
            {
                await using var file = File.OpenRead(target);
                await using var stdout = Console.OpenStandardOutput();
                await file.CopyToAsync(stdout, ct).ConfigureAwait(false);
            }
        }
        finally
        {
            Directory.Delete(temp, recursive: true);
        }
    }

    internal static async Task<int> CopyAsync(string fromUri, string toUri, TextWriter stderr, TimeProvider time, CancellationToken ct)
    {
        if (string.Equals(fromUri, toUri, StringComparison.Ordinal))
        {
            await stderr.WriteLineAsync("error: --from and --to name the same store").ConfigureAwait(false);
            return QueryCommand.UsageError;
        }

        try
        {
            await using var store = LogStore.Open(fromUri);
            await using var sink = await SinkRegistry.OpenAsync(toUri, new SinkContext(time), ct).ConfigureAwait(false);
            var events = new Progress(stderr, "events copied", time);
            await CopyEventsAsync(store, sink, null, null, events, ct).ConfigureAwait(false);
            events.Done();
            var letters = new Progress(stderr, "dead letters copied", time);
            var batch = new List<DeadLetter>(BatchSize);
            await foreach (var d in store.ReadDeadLettersAsync(null, null, ct).ConfigureAwait(false))
            {
                batch.Add(d);
                if (batch.Count == BatchSize)
                {
                    await sink.WriteDeadLettersAsync(batch, ct).ConfigureAwait(false);
                    letters.Add(batch.Count);
                    batch.Clear();
                }
            }

            if (batch.Count > 0)
            {
                await sink.WriteDeadLettersAsync(batch, ct).ConfigureAwait(false);
                letters.Add(batch.Count);
            }

            letters.Done();
            return 0;
        }
        catch (Exception e) when (e is LogStoreNotFoundException or LogStoreUnavailableException or ArgumentException or IOException or System.Data.Common.DbException or SinkException)
        {
            await stderr.WriteLineAsync($"error: {e.Message}").ConfigureAwait(false);
            return QueryCommand.StoreError;
        }
    }

    private static async Task CopyEventsAsync(ILogStore store, ILogSink sink, DateTimeOffset? from, DateTimeOffset? to, Progress progress, CancellationToken ct)
    {
        var batch = new List<LogEvent>(BatchSize);
        await foreach (var e in store.ReadEventsAsync(from, to, ct).ConfigureAwait(false))
        {
            batch.Add(e);
            if (batch.Count == BatchSize)
            {
                await sink.WriteBatchAsync(batch, ct).ConfigureAwait(false);
                progress.Add(batch.Count);

                // The sink may keep the list's events; a new list, not Clear().
                batch = new List<LogEvent>(BatchSize);
            }
        }

        if (batch.Count > 0)
        {
            await sink.WriteBatchAsync(batch, ct).ConfigureAwait(false);
            progress.Add(batch.Count);
        }
    }

    private static bool TryWindow(string? since, string? until, TimeProvider time, TextWriter stderr, out DateTimeOffset? from, out DateTimeOffset? to)
    {
        from = to = null;
        foreach (var (name, text) in new[] { ("--since", since), ("--until", until) })
        {
            if (text is null)
            {
                continue;
            }

            if (!QueryTime.TryParse(text, time, out var t))
            {
                stderr.WriteLine($"error: {name} '{text}' is neither a duration (15m, 2h, 7d) nor an ISO-8601 time");
                return false;
            }

            if (name == "--since")
            {
                from = t;
            }
            else
            {
                to = t;
            }
        }

        return true;
    }

    /// <summary>Counts what was moved and prints it to stderr at most once a second, then a last line.</summary>
    private sealed class Progress(TextWriter stderr, string what, TimeProvider time)
    {
        private readonly long _started = time.GetTimestamp();
        private long _lastPrinted = time.GetTimestamp();
        private long _count;

        public void Add(long n)
        {
            _count += n;
            if (time.GetElapsedTime(_lastPrinted) >= TimeSpan.FromSeconds(1))
            {
                _lastPrinted = time.GetTimestamp();
                Print();
            }
        }

        public void Done() => Print();

        private void Print()
        {
            var seconds = Math.Max(time.GetElapsedTime(_started).TotalSeconds, 0.001);
            stderr.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{_count:N0} {what} ({_count / seconds:N0}/s)"));
        }
    }
}
