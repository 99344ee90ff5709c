using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Conveyor.Logs.Configuration;
using Conveyor.Logs.Diagnostics;
using Conveyor.Logs.Model;
using Conveyor.Logs.Pipeline;
using Conveyor.Logs.Query;
using Conveyor.Logs.Sinks;
using Conveyor.Logs.Sinks.DuckDb;
using Microsoft.Extensions.Logging.Console;

namespace Conveyor.Cli.Commands;

/// <summary>
/// <c>conveyor store export</c> (every event of a store as Parquet or NDJSON) and <c>conveyor store copy</c> (any store
/// to any store), docs/REFERENCE.md "Command line". Both read the store's file or server directly, so a DuckDB store must not be held by a
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

        // Diagnostics (a failing store's warnings, records lost) go to stderr through ILogger, as in the service.
        using var loggers = LoggerFactory.Create(static b => b
            .AddSimpleConsole(static o => o.SingleLine = true)
            .Services.Configure<ConsoleLoggerOptions>(static o => o.LogToStandardErrorThreshold = LogLevel.Trace));
        try
        {
            await using var store = LogStore.Open(fromUri);
            await using var sink = await SinkRegistry.OpenAsync(toUri, new SinkContext(time) { LoggerFactory = loggers }, ct).ConfigureAwait(false);
            return await CopyAsync(store, sink, new SinkOptions { Uri = toUri }, loggers.CreateLogger("Conveyor.Store.Copy"), stderr, time, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is LogStoreNotFoundException or LogStoreUnavailableException or ArgumentException or IOException or System.Data.Common.DbException or SinkException)
        {
            await stderr.WriteLineAsync($"error: {e.Message}").ConfigureAwait(false);
            return QueryCommand.StoreError;
        }
    }

    /// <summary>
    /// Copies every event, then every dead letter, of <paramref name="store"/> into <paramref name="sink"/> through the
    /// service's sink lane (<see cref="SinkWriter"/>: retry, then halve a refused batch, then store what the sink refuses
    /// as a dead letter with its reason), so one refused event costs itself, not the copy. What holds at the end, and
    /// is printed: read = copied + dead-lettered + failed; the exit code is 0 unless a record was failed (neither
    /// stored nor kept as a dead letter). <paramref name="sink"/> is the caller's to dispose.
    /// </summary>
    internal static async Task<int> CopyAsync(ILogStore store, ILogSink sink, SinkOptions options, ILogger logger, TextWriter stderr, TimeProvider time, CancellationToken ct)
    {
        await using var writer = SinkWriter.Start(sink, options, logger, time, ct);
        var progress = new Progress(stderr, "read", time, () => CopyCounts(writer.Report()));
        var events = await OfferAllAsync(store.ReadEventsAsync(null, null, ct), writer.WriteAsync, progress, ct).ConfigureAwait(false);
        var letters = await OfferAllAsync(store.ReadDeadLettersAsync(null, null, ct), writer.WriteDeadLettersAsync, progress, ct).ConfigureAwait(false);

        // The copy waits for the sink as long as its retries take; Ctrl-C (ct) cancels the writes.
        var (r, left) = await writer.CompleteAsync(Timeout.InfiniteTimeSpan).ConfigureAwait(false);
        progress.Done();
        await stderr.WriteLineAsync(string.Create(
            CultureInfo.InvariantCulture,
            $"{r.StoredEvents:N0} events copied, {r.StoredDeadLetters:N0} dead letters copied, {r.Rejected:N0} events dead-lettered (refused by the destination), {r.Failed + left:N0} failed; {events + letters:N0} read ({events:N0} events, {letters:N0} dead letters)")).ConfigureAwait(false);
        if (r.Failed + left > 0)
        {
            await stderr.WriteLineAsync($"error: {r.Failed + left:N0} records were neither stored nor kept as dead letters").ConfigureAwait(false);
            return QueryCommand.StoreError;
        }

        return 0;
    }

    /// <summary>Reads <paramref name="items"/> and hands them to <paramref name="write"/> in batches; returns how many were read.</summary>
    private static async Task<long> OfferAllAsync<T>(IAsyncEnumerable<T> items, Func<IReadOnlyList<T>, CancellationToken, ValueTask<bool>> write, Progress progress, CancellationToken ct)
    {
        long read = 0;
        var batch = new List<T>(BatchSize);
        await foreach (var item in items.ConfigureAwait(false))
        {
            batch.Add(item);
            if (batch.Count == BatchSize)
            {
                await OfferAsync(batch).ConfigureAwait(false);

                // The lane keeps the list's items until they are written; a new list, not Clear().
                batch = new List<T>(BatchSize);
            }
        }

        if (batch.Count > 0)
        {
            await OfferAsync(batch).ConfigureAwait(false);
        }

        return read;

        async ValueTask OfferAsync(List<T> full)
        {
            // False only when ct fired: the copy stops as a cancelled command does.
            if (!await write(full, ct).ConfigureAwait(false))
            {
                throw new OperationCanceledException(ct);
            }

            read += full.Count;
            progress.Add(full.Count);
        }
    }

    private static string CopyCounts(SinkReport r) => string.Create(
        CultureInfo.InvariantCulture,
        $"{r.StoredEvents + r.StoredDeadLetters:N0} copied, {r.Rejected:N0} dead-lettered, {r.Failed:N0} failed");

    private static async Task CopyEventsAsync(ILogStore store, DuckDbSink sink, DateTimeOffset? from, DateTimeOffset? to, Progress progress, CancellationToken ct)
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

    /// <summary>Counts what was moved and prints it to stderr at most once a second, then a last line; <c>detail</c> adds what became of it.</summary>
    private sealed class Progress(TextWriter stderr, string what, TimeProvider time, Func<string>? detail = null)
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
            var more = detail is null ? string.Empty : ": " + detail();
            stderr.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{_count:N0} {what} ({_count / seconds:N0}/s){more}"));
        }
    }
}
