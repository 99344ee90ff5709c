using System.Globalization;
using Conveyor.Logs.Model;

namespace Conveyor.Logs.Query;

/// <summary>A search over a store.</summary>
/// <param name="Expression">The query language text (docs/REFERENCE.md, "Query language"); null, blank or <c>*</c> matches all.</param>
/// <param name="Since">Only events at or after this instant; null = no lower bound.</param>
/// <param name="Until">Only events before this instant (exclusive); null = no upper bound.</param>
/// <param name="Limit">Most results returned, newest first. Default 100; must be 1..100000.</param>
/// <param name="DeadLetters">Search the dead-letter store instead of events.</param>
/// <param name="Offset">Results to skip, newest first, before the <paramref name="Limit"/> returned: with a fixed
/// <paramref name="Until"/> this pages back through a window that does not shift as new events arrive. Default 0.</param>
public sealed record LogQuery(string? Expression, DateTimeOffset? Since = null, DateTimeOffset? Until = null, int Limit = 100, bool DeadLetters = false, int Offset = 0)
{
    /// <summary>The largest <see cref="Limit"/> accepted.</summary>
    public const int MaxLimit = 100_000;

    /// <summary>Parses the expression; throws <see cref="QuerySyntaxException"/> when it is not a query.</summary>
    internal QueryNode Parse()
    {
        if (Limit is < 1 or > MaxLimit)
        {
            throw new ArgumentOutOfRangeException(nameof(Limit), Limit, $"Limit must be 1..{MaxLimit}.");
        }

        if (Offset < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(Offset), Offset, "Offset must not be negative.");
        }

        return QueryParser.Parse(Expression);
    }
}

/// <summary>Results of <see cref="ILogStore.SearchAsync"/>, newest first: events, or dead letters for a dead-letter query.</summary>
public sealed record LogQueryResult(IReadOnlyList<LogEvent> Events, IReadOnlyList<DeadLetter> DeadLetters)
{
    /// <summary>How many results there are (events or dead letters).</summary>
    public int Count => Events.Count + DeadLetters.Count;
}

/// <summary>Parses the time arguments of <c>conveyor query</c> and <c>/api/search</c>.</summary>
public static class QueryTime
{
    /// <summary>
    /// A duration back from now (<c>30s</c>, <c>15m</c>, <c>2h</c>, <c>7d</c>, <c>1w</c>) or an ISO-8601 instant (UTC
    /// when it has no zone). Returns false when <paramref name="text"/> is neither.
    /// </summary>
    public static bool TryParse(string text, TimeProvider timeProvider, out DateTimeOffset value)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(timeProvider);
        text = text.Trim();
        if (text.Length >= 2 && long.TryParse(text.AsSpan(0, text.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var n))
        {
            TimeSpan? span = char.ToLowerInvariant(text[^1]) switch
            {
                's' => TimeSpan.FromSeconds(n),
                'm' => TimeSpan.FromMinutes(n),
                'h' => TimeSpan.FromHours(n),
                'd' => TimeSpan.FromDays(n),
                'w' => TimeSpan.FromDays(n * 7),
                _ => null,
            };
            if (span is { } s)
            {
                value = timeProvider.GetUtcNow() - s;
                return true;
            }
        }

        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out value);
    }
}
