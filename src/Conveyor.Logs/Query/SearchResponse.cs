using System.Globalization;
using System.Text.Json;
using Conveyor.Logs.Model;

namespace Conveyor.Logs.Query;

/// <summary>
/// The <c>GET /api/search?q=&amp;since=&amp;until=&amp;limit=&amp;offset=&amp;dead_letters=&amp;total=&amp;histogram=</c> contract,
/// independent of the HTTP host. A success (200) is
/// <code>{"events": [LogEventJson…], "count": N, "limit": L, "truncated": bool}</code>
/// newest first after skipping <c>offset</c> results (default 0), where <c>count</c> is the number of events in the array and <c>truncated</c> says more matched than
/// <c>limit</c>. <c>total=1</c> adds <c>"total": N</c>, every match in the time window; <c>histogram=DURATION</c>
/// (<c>1m</c>, <c>5s</c>, <c>1h</c>…) adds <c>"histogram": [{"time": ISO-8601 bucket start, "count": N}, …]</c>, the
/// buckets holding matches oldest first, aligned to the Unix epoch, whose counts sum to the total. With <c>dead_letters=true</c> the array is <c>"dead_letters"</c> of
/// <c>{"id","source","parser","reason","raw_line","time"}</c>. A bad request (400) is
/// <code>{"error": "column 12: expected a value after '&gt;='", "column": 12, "parameter": "q"}</code>
/// (<c>column</c> only for query syntax errors).
/// </summary>
public static class SearchResponse
{
    /// <summary>The default and the largest <c>limit</c>.</summary>
    public const int DefaultLimit = 100;

    /// <summary>The largest <c>limit</c> the endpoint accepts.</summary>
    public const int MaxLimit = 10_000;

    /// <summary>The largest <c>offset</c>: deeper pages are better reached by narrowing <c>until</c>.</summary>
    public const int MaxOffset = 1_000_000;

    /// <summary>Runs the search described by the raw query-string values and writes the JSON response.</summary>
    /// <returns>The HTTP status to send: 200, or 400 for a bad parameter or query.</returns>
    public static Task<int> WriteAsync(
        Stream output, ILogStore store, string? q, string? since, string? until, string? limit, bool deadLetters, TimeProvider timeProvider, CancellationToken cancellationToken = default) =>
        WriteAsync(output, store, new SearchParameters(q, since, until, limit, null, deadLetters), timeProvider, cancellationToken);

    /// <summary>Runs the search described by the raw query-string values, including <c>offset</c>, and writes the JSON response.</summary>
    /// <returns>The HTTP status to send: 200, or 400 for a bad parameter or query.</returns>
    public static async Task<int> WriteAsync(Stream output, ILogStore store, SearchParameters parameters, TimeProvider timeProvider, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var (q, since, until, limit, offset, deadLetters) = (parameters.Q, parameters.Since, parameters.Until, parameters.Limit, parameters.Offset, parameters.DeadLetters);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(timeProvider);
        await using var writer = new Utf8JsonWriter(output, LogEventJson.WriterOptions);
        var n = DefaultLimit;
        if (!string.IsNullOrEmpty(limit) && (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out n) || n is < 1 or > MaxLimit))
        {
            WriteError(writer, "limit", $"limit must be an integer 1..{MaxLimit}", null);
            await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
            return 400;
        }

        var skip = 0;
        if (!string.IsNullOrEmpty(offset) && (!int.TryParse(offset, NumberStyles.None, CultureInfo.InvariantCulture, out skip) || skip > MaxOffset))
        {
            WriteError(writer, "offset", $"offset must be an integer 0..{MaxOffset}", null);
            await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
            return 400;
        }

        DateTimeOffset? from = null, to = null;
        foreach (var (name, text) in new[] { ("since", since), ("until", until) })
        {
            if (string.IsNullOrEmpty(text))
            {
                continue;
            }

            if (!QueryTime.TryParse(text, timeProvider, out var t))
            {
                WriteError(writer, name, $"{name} must be a duration like 15m, 2h, 7d or an ISO-8601 time", null);
                await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
                return 400;
            }

            if (name == "since")
            {
                from = t;
            }
            else
            {
                to = t;
            }
        }

        var wantTotal = parameters.Total is "1" or "true";
        TimeSpan? width = null;
        if (!string.IsNullOrEmpty(parameters.Histogram))
        {
            if (!Configuration.Durations.TryParse(parameters.Histogram, out var w) || w < TimeSpan.FromMilliseconds(1))
            {
                WriteError(writer, "histogram", "histogram must be a bucket width like 1s, 1m, 1h (at least 1ms)", null);
                await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
                return 400;
            }

            width = w;
        }

        LogQueryResult result;
        long? total = null;
        IReadOnlyList<HistogramBucket>? histogram = null;
        try
        {
            // One more than asked tells whether the answer was cut short.
            var query = new LogQuery(q, from, to, n + 1, deadLetters, skip);
            result = await store.SearchAsync(query, cancellationToken).ConfigureAwait(false);
            if (width is { } bucket)
            {
                histogram = await store.HistogramAsync(query, bucket, cancellationToken).ConfigureAwait(false);
                total = wantTotal ? histogram.Sum(static b => b.Count) : null;
            }
            else if (wantTotal)
            {
                total = TotalFromPage(result.Count, query.Limit, skip) ?? await store.CountAsync(query, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (QuerySyntaxException e)
        {
            WriteError(writer, "q", e.Message, e.Column);
            await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
            return 400;
        }
        catch (ArgumentOutOfRangeException e) when (width is not null)
        {
            WriteError(writer, "histogram", e.Message.Split(" (Parameter")[0], null);
            await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
            return 400;
        }

        writer.WriteStartObject();
        var written = 0;
        if (deadLetters)
        {
            writer.WriteStartArray("dead_letters");
            foreach (var d in result.DeadLetters.Take(n))
            {
                WriteDeadLetter(writer, d);
                written++;
            }
        }
        else
        {
            writer.WriteStartArray("events");
            foreach (var e in result.Events.Take(n))
            {
                LogEventJson.Write(writer, e);
                written++;
            }
        }

        writer.WriteEndArray();
        writer.WriteNumber("count", written);
        writer.WriteNumber("limit", n);
        writer.WriteBoolean("truncated", result.Count > n);
        if (total is { } all)
        {
            writer.WriteNumber("total", all);
        }

        if (histogram is not null)
        {
            writer.WriteStartArray("histogram");
            foreach (var b in histogram)
            {
                writer.WriteStartObject();
                writer.WriteString("time", LogEventJson.FormatTimestamp(b.Time));
                writer.WriteNumber("count", b.Count);
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
        }

        writer.WriteEndObject();
        await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
        return 200;
    }

    /// <summary>Writes a dead letter as one JSON object (the shape of <c>--dead-letters --json</c> too).</summary>
    public static void WriteDeadLetter(Utf8JsonWriter writer, DeadLetter d)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(d);
        writer.WriteStartObject();
        writer.WriteString("id", d.Id);
        writer.WriteString("source", d.Source);
        writer.WriteString("parser", d.Parser);
        writer.WriteString("reason", d.Reason);
        writer.WriteString("raw_line", d.RawLine);
        writer.WriteString("time", LogEventJson.FormatTimestamp(d.Time));
        writer.WriteEndObject();
    }

    /// <summary>
    /// The total a page already proves: a page shorter than asked holds every match from <paramref name="skip"/> on, so
    /// the total is <paramref name="skip"/> plus the page, and a second scan of the window (what a rare word's count
    /// costs: every row) is not needed. An empty page after a skip proves nothing (the matches may end before it).
    /// </summary>
    internal static long? TotalFromPage(int rows, int asked, int skip) =>
        rows < asked && (rows > 0 || skip == 0) ? skip + rows : null;

    private static void WriteError(Utf8JsonWriter writer, string parameter, string message, int? column)
    {
        writer.WriteStartObject();
        writer.WriteString("error", message);
        if (column is { } c)
        {
            writer.WriteNumber("column", c);
        }

        writer.WriteString("parameter", parameter);
        writer.WriteEndObject();
    }
}

/// <summary>The raw query-string values of <c>/api/search</c>, as the HTTP host received them (null when absent).</summary>
/// <param name="Q">The query expression.</param>
/// <param name="Since">The window's start: a duration back from now or an instant.</param>
/// <param name="Until">The window's end (exclusive).</param>
/// <param name="Limit">Most results; default <see cref="SearchResponse.DefaultLimit"/>.</param>
/// <param name="Offset">Results to skip; default 0.</param>
/// <param name="DeadLetters">Search dead letters instead of events.</param>
/// <param name="Total"><c>1</c> or <c>true</c> adds <c>"total"</c>; default none.</param>
/// <param name="Histogram">A bucket width (<c>1m</c>) that adds <c>"histogram"</c>; default none.</param>
public sealed record SearchParameters(string? Q, string? Since, string? Until, string? Limit, string? Offset, bool DeadLetters, string? Total = null, string? Histogram = null);
