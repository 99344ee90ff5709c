using System.CommandLine;
using System.Text.Json;
using Conveyor.Logs.Model;
using Conveyor.Logs.Query;
using Spectre.Console;

namespace Conveyor.Cli.Commands;

/// <summary><c>conveyor query EXPR</c>: searches a store, newest first (SPEC §3).</summary>
internal static class QueryCommand
{
    /// <summary>Exit code for a query that does not parse or a bad option value.</summary>
    public const int UsageError = 2;

    /// <summary>Exit code for a store that is missing or fails.</summary>
    public const int StoreError = 1;

    public static Command Create(TimeProvider? timeProvider = null)
    {
        var time = timeProvider ?? TimeProvider.System;
        var expression = new Argument<string[]>("expression")
        {
            Description = "The query, e.g. 'status >= 500 AND client = 10.0.0.7' or 'timeout'; empty or * matches all",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var since = new Option<string?>("--since") { Description = "Only events at or after: a duration back from now (15m, 2h, 7d) or an ISO-8601 time" };
        var until = new Option<string?>("--until") { Description = "Only events before this ISO-8601 time (or duration back from now)" };
        var limit = new Option<int>("--limit") { Description = "Most results shown, newest first", DefaultValueFactory = _ => 100 };
        var json = new Option<bool>("--json") { Description = "Print JSON lines (the event JSON of 'conveyor parse')" };
        var count = new Option<bool>("--count") { Description = "Print only the number of matches" };
        var histogram = new Option<string?>("--histogram") { Description = "Print the number of matches per time bucket of this width (1m, 1h…), oldest first" };
        var deadLetters = new Option<bool>("--dead-letters") { Description = "Search the dead-letter store instead of events" };
        var store = new Option<string>("--store")
        {
            Description = "The store: duckdb:PATH, sqlite:PATH or postgres:CONNSTR. A DuckDB store held by a running 'conveyor run' is searched through that service",
            DefaultValueFactory = _ => LogStore.DefaultUri,
        };
        var server = new Option<string?>("--server") { Description = "Search a running conveyor's /api/search instead of a store, e.g. http://127.0.0.1:8080" };
        var token = new Option<string?>("--token") { Description = "The bearer token the service asks for (also CONVEYOR_TOKEN)" };
        var command = new Command("query", "Search stored logs, newest first.") { expression, since, until, limit, json, count, histogram, deadLetters, store, server, token };
        command.SetAction(async (ParseResult r, CancellationToken ct) =>
        {
            var options = new QueryOptions(
                string.Join(' ', r.GetValue(expression) ?? []),
                r.GetValue(since),
                r.GetValue(until),
                r.GetValue(limit),
                r.GetValue(json),
                r.GetValue(count),
                r.GetValue(deadLetters),
                r.GetValue(store) ?? LogStore.DefaultUri)
            {
                Histogram = r.GetValue(histogram),
                Server = r.GetValue(server),
                Token = r.GetValue(token) ?? Environment.GetEnvironmentVariable("CONVEYOR_TOKEN"),
            };
            return await RunAsync(options, Console.Out, Console.Error, !Console.IsOutputRedirected, time, ct).ConfigureAwait(false);
        });
        return command;
    }

    internal sealed record QueryOptions(string Expression, string? Since, string? Until, int Limit, bool Json, bool Count, bool DeadLetters, string Store)
    {
        /// <summary>A bucket width: print counts per bucket instead of events.</summary>
        public string? Histogram { get; init; }

        /// <summary>A running service to search instead of <see cref="Store"/>.</summary>
        public string? Server { get; init; }

        /// <summary>The service's bearer token.</summary>
        public string? Token { get; init; }
    }

    internal static async Task<int> RunAsync(QueryOptions o, TextWriter stdout, TextWriter stderr, bool terminal, TimeProvider time, CancellationToken ct)
    {
        if (o.Limit is < 1 or > LogQuery.MaxLimit)
        {
            await stderr.WriteLineAsync($"error: --limit must be 1..{LogQuery.MaxLimit}").ConfigureAwait(false);
            return UsageError;
        }

        DateTimeOffset? from = null, to = null;
        if (o.Since is not null)
        {
            if (!QueryTime.TryParse(o.Since, time, out var t))
            {
                await stderr.WriteLineAsync($"error: --since '{o.Since}' is neither a duration (15m, 2h, 7d) nor an ISO-8601 time").ConfigureAwait(false);
                return UsageError;
            }

            from = t;
        }

        if (o.Until is not null)
        {
            if (!QueryTime.TryParse(o.Until, time, out var t))
            {
                await stderr.WriteLineAsync($"error: --until '{o.Until}' is neither a duration (15m, 2h, 7d) nor an ISO-8601 time").ConfigureAwait(false);
                return UsageError;
            }

            to = t;
        }

        TimeSpan? width = null;
        if (o.Histogram is not null)
        {
            if (!Logs.Configuration.Durations.TryParse(o.Histogram, out var w) || w < TimeSpan.FromMilliseconds(1))
            {
                await stderr.WriteLineAsync($"error: --histogram '{o.Histogram}' is not a bucket width like 1s, 1m, 1h").ConfigureAwait(false);
                return UsageError;
            }

            width = w;
        }

        Uri? server = null;
        if (o.Server is not null && (!Uri.TryCreate(o.Server, UriKind.Absolute, out server) || server.Scheme is not ("http" or "https")))
        {
            await stderr.WriteLineAsync($"error: --server '{o.Server}' is not an http:// address").ConfigureAwait(false);
            return UsageError;
        }

        var query = new LogQuery(o.Expression, from, to, o.Limit, o.DeadLetters);
        try
        {
            // Parse before opening the store, so a typo is reported as such even when the store is missing.
            QueryParser.Parse(o.Expression);
            await using var store = server is not null ? new HttpLogStore(server, o.Token) : LogStore.Open(o.Store);
            if (width is { } bucket)
            {
                foreach (var b in await store.HistogramAsync(query, bucket, ct).ConfigureAwait(false))
                {
                    var start = LogEventJson.FormatTimestamp(b.Time);
                    var line = o.Json
                        ? $"{{\"time\":\"{start}\",\"count\":{b.Count.ToString(System.Globalization.CultureInfo.InvariantCulture)}}}"
                        : start + "\t" + b.Count.ToString(System.Globalization.CultureInfo.InvariantCulture);
                    await stdout.WriteLineAsync(line).ConfigureAwait(false);
                }

                return 0;
            }

            if (o.Count)
            {
                await stdout.WriteLineAsync((await store.CountAsync(query, ct).ConfigureAwait(false)).ToString(System.Globalization.CultureInfo.InvariantCulture)).ConfigureAwait(false);
                return 0;
            }

            var result = await store.SearchAsync(query, ct).ConfigureAwait(false);
            if (o.Json)
            {
                WriteJson(stdout, result);
            }
            else if (terminal)
            {
                WriteTable(stdout, result);
            }
            else
            {
                WritePlain(stdout, result);
            }

            return 0;
        }
        catch (QuerySyntaxException e)
        {
            await stderr.WriteLineAsync($"error: {e.Message}").ConfigureAwait(false);
            return UsageError;
        }
        catch (LogStoreNotFoundException e)
        {
            await stderr.WriteLineAsync($"error: {e.Message}").ConfigureAwait(false);
            return StoreError;
        }
        catch (LogStoreUnavailableException e)
        {
            await stderr.WriteLineAsync($"error: {e.Message}").ConfigureAwait(false);
            return StoreError;
        }
        catch (ArgumentOutOfRangeException e) when (width is not null)
        {
            await stderr.WriteLineAsync($"error: {e.Message.Split(" (Parameter")[0]}").ConfigureAwait(false);
            return UsageError;
        }
        catch (ArgumentException e)
        {
            await stderr.WriteLineAsync($"error: {e.Message}").ConfigureAwait(false);
            return UsageError;
        }
        catch (System.Data.Common.DbException e)
        {
            await stderr.WriteLineAsync($"error: the store failed: {e.Message}").ConfigureAwait(false);
            return StoreError;
        }
    }

    private static void WriteJson(TextWriter stdout, LogQueryResult result)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(4096);
        foreach (var e in result.Events)
        {
            buffer.ResetWrittenCount();
            using (var w = new Utf8JsonWriter(buffer, LogEventJson.WriterOptions))
            {
                LogEventJson.Write(w, e);
            }

            stdout.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan));
        }

        foreach (var d in result.DeadLetters)
        {
            buffer.ResetWrittenCount();
            using (var w = new Utf8JsonWriter(buffer, LogEventJson.WriterOptions))
            {
                SearchResponse.WriteDeadLetter(w, d);
            }

            stdout.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan));
        }
    }

    private static void WritePlain(TextWriter stdout, LogQueryResult result)
    {
        foreach (var e in result.Events)
        {
            stdout.WriteLine(string.Join('\t', LogEventJson.FormatTimestamp(e.EffectiveTimestamp), e.SeverityText ?? "-", e.Source, OneLine(e.Body)));
        }

        foreach (var d in result.DeadLetters)
        {
            stdout.WriteLine(string.Join('\t', LogEventJson.FormatTimestamp(d.Time), d.Source, d.Parser, OneLine(d.Reason), OneLine(d.RawLine)));
        }
    }

    private static void WriteTable(TextWriter stdout, LogQueryResult result)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(stdout) });
        var table = new Table().Border(TableBorder.Simple);
        if (result.DeadLetters.Count > 0)
        {
            table.AddColumns("time", "source", "parser", "reason", "line");
            foreach (var d in result.DeadLetters)
            {
                table.AddRow(Markup.Escape(LogEventJson.FormatTimestamp(d.Time)), Markup.Escape(d.Source), Markup.Escape(d.Parser), Markup.Escape(d.Reason), Markup.Escape(OneLine(d.RawLine)));
            }
        }
        else
        {
            table.AddColumns("time", "level", "source", "body");
            foreach (var e in result.Events)
            {
                table.AddRow(Markup.Escape(LogEventJson.FormatTimestamp(e.EffectiveTimestamp)), Markup.Escape(e.SeverityText ?? "-"), Markup.Escape(e.Source), Markup.Escape(OneLine(e.Body)));
            }
        }

        console.Write(table);
        console.MarkupLine($"[grey]{result.Count} result(s)[/]");
    }

    private static string OneLine(string s) => s.Replace('\n', ' ').Replace('\r', ' ').Replace('\t', ' ');
}
