using System.Globalization;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Conveyor.Logs.Model;

namespace Conveyor.Logs.Query;

/// <summary>
/// Searches a running <c>conveyor run</c> through its <c>GET /api/search</c> (<see cref="SearchResponse"/>): how
/// another process reads a DuckDB store the service holds. Export and copy need the file itself and are refused.
/// </summary>
public sealed class HttpLogStore : ILogStore
{
    private readonly HttpClient _http;
    private readonly Uri _baseAddress;

    /// <summary>Searches the service at <paramref name="baseAddress"/> (e.g. <c>http://127.0.0.1:8080</c>).</summary>
    /// <param name="baseAddress">The service's HTTP address.</param>
    /// <param name="bearerToken">Sent as <c>Authorization: Bearer</c> when the service requires one; null = none.</param>
    public HttpLogStore(Uri baseAddress, string? bearerToken)
    {
        ArgumentNullException.ThrowIfNull(baseAddress);
        _baseAddress = baseAddress;
        _http = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromMinutes(2) };
        if (bearerToken is not null)
        {
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", bearerToken);
        }
    }

    /// <inheritdoc />
    public async Task<LogQueryResult> SearchAsync(LogQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        query.Parse();
        var events = new List<LogEvent>();
        var letters = new List<DeadLetter>();

        // The endpoint answers at most SearchResponse.MaxLimit per request: page until the limit is met or the store ends.
        while (events.Count + letters.Count < query.Limit)
        {
            var got = events.Count + letters.Count;
            var page = Math.Min(SearchResponse.MaxLimit, query.Limit - got);
            using var doc = await GetAsync(query, page, query.Offset + got, null, cancellationToken).ConfigureAwait(false);
            var root = doc.RootElement;
            if (query.DeadLetters)
            {
                letters.AddRange(root.GetProperty("dead_letters").EnumerateArray().Select(ReadDeadLetter));
            }
            else
            {
                events.AddRange(root.GetProperty("events").EnumerateArray().Select(LogEventJson.Read));
            }

            if (!root.GetProperty("truncated").GetBoolean())
            {
                break;
            }
        }

        return new LogQueryResult(events, letters);
    }

    /// <inheritdoc />
    public async Task<long> CountAsync(LogQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        using var doc = await GetAsync(query, 1, 0, "&total=1", cancellationToken).ConfigureAwait(false);
        return doc.RootElement.GetProperty("total").GetInt64();
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<HistogramBucket>> HistogramAsync(LogQuery query, TimeSpan width, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        var ms = ((long)width.TotalMilliseconds).ToString(CultureInfo.InvariantCulture);
        using var doc = await GetAsync(query, 1, 0, "&histogram=" + ms + "ms", cancellationToken).ConfigureAwait(false);
        return doc.RootElement.GetProperty("histogram").EnumerateArray()
            .Select(static b => new HistogramBucket(DateTimeOffset.Parse(b.GetProperty("time").GetString()!, CultureInfo.InvariantCulture), b.GetProperty("count").GetInt64()))
            .ToList();
    }

    /// <inheritdoc />
    public IAsyncEnumerable<LogEvent> ReadEventsAsync(DateTimeOffset? since, DateTimeOffset? until, CancellationToken cancellationToken = default) =>
        Refuse<LogEvent>(cancellationToken);

    /// <inheritdoc />
    public IAsyncEnumerable<DeadLetter> ReadDeadLettersAsync(DateTimeOffset? since, DateTimeOffset? until, CancellationToken cancellationToken = default) =>
        Refuse<DeadLetter>(cancellationToken);

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        _http.Dispose();
        return default;
    }

    private async IAsyncEnumerable<T> Refuse<T>([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await Task.CompletedTask.ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
        throw new LogStoreUnavailableException(
            $"The store is held by the conveyor service at {_baseAddress}; reading every event needs the file itself: stop the service first.");
#pragma warning disable CS0162 // An iterator needs a yield; the throw above always leaves first.
        yield break;
#pragma warning restore CS0162
    }

    private async Task<JsonDocument> GetAsync(LogQuery query, int limit, int offset, string? extra, CancellationToken cancellationToken)
    {
        var url = new StringBuilder("/api/search?q=").Append(Uri.EscapeDataString(query.Expression ?? string.Empty))
            .Append("&limit=").Append(limit.ToString(CultureInfo.InvariantCulture));
        if (offset > 0)
        {
            url.Append("&offset=").Append(offset.ToString(CultureInfo.InvariantCulture));
        }

        if (query.Since is { } since)
        {
            url.Append("&since=").Append(Uri.EscapeDataString(since.UtcDateTime.ToString("O", CultureInfo.InvariantCulture)));
        }

        if (query.Until is { } until)
        {
            url.Append("&until=").Append(Uri.EscapeDataString(until.UtcDateTime.ToString("O", CultureInfo.InvariantCulture)));
        }

        if (query.DeadLetters)
        {
            url.Append("&dead_letters=true");
        }

        url.Append(extra);
        HttpResponseMessage response;
        try
        {
            response = await _http.GetAsync(new Uri(url.ToString(), UriKind.Relative), cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            throw new LogStoreUnavailableException($"The conveyor service at {_baseAddress} that holds the store does not answer ({e.Message}); is it still running?", e);
        }

        using (response)
        {
            var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            JsonDocument doc;
            try
            {
                doc = await JsonDocument.ParseAsync(body, cancellationToken: cancellationToken).ConfigureAwait(false);
            }
            catch (JsonException e)
            {
                throw new LogStoreUnavailableException($"The service at {_baseAddress} answered {(int)response.StatusCode} without JSON: is it a conveyor?", e);
            }

            if (response.IsSuccessStatusCode)
            {
                return doc;
            }

            using (doc)
            {
                var root = doc.RootElement;
                var error = root.TryGetProperty("error", out var m) ? m.GetString() : response.ReasonPhrase;
                if (root.TryGetProperty("parameter", out var p) && p.GetString() == "q" && root.TryGetProperty("column", out var c))
                {
                    var prefix = $"column {c.GetInt32()}: ";
                    throw new QuerySyntaxException(c.GetInt32(), error is not null && error.StartsWith(prefix, StringComparison.Ordinal) ? error[prefix.Length..] : error ?? "bad query");
                }

                throw (int)response.StatusCode == 401
                    ? new LogStoreUnavailableException($"The service at {_baseAddress} requires a bearer token: pass --token TOKEN.")
                    : new LogStoreUnavailableException($"The service at {_baseAddress} refused the search ({(int)response.StatusCode}): {error}");
            }
        }
    }

    private static DeadLetter ReadDeadLetter(JsonElement d) => new(
        d.GetProperty("id").GetString()!,
        d.GetProperty("source").GetString()!,
        d.GetProperty("parser").GetString()!,
        d.GetProperty("reason").GetString()!,
        d.GetProperty("raw_line").GetString()!,
        DateTimeOffset.Parse(d.GetProperty("time").GetString()!, CultureInfo.InvariantCulture));
}
