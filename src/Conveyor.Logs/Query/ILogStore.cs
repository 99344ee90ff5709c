using Conveyor.Logs.Model;

namespace Conveyor.Logs.Query;

/// <summary>
/// Searches a store written by a Conveyor sink. Used by <c>conveyor query</c> and <c>/api/search</c>; open one with
/// <see cref="LogStore.Open"/>. Safe for concurrent use: each call uses its own connection.
/// </summary>
public interface ILogStore : IAsyncDisposable
{
    /// <summary>The results of <paramref name="query"/>, newest first, at most <see cref="LogQuery.Limit"/>.</summary>
    /// <exception cref="QuerySyntaxException">The expression is not a query.</exception>
    Task<LogQueryResult> SearchAsync(LogQuery query, CancellationToken cancellationToken = default);

    /// <summary>How many events (or dead letters) match, ignoring <see cref="LogQuery.Limit"/>.</summary>
    /// <exception cref="QuerySyntaxException">The expression is not a query.</exception>
    Task<long> CountAsync(LogQuery query, CancellationToken cancellationToken = default);

    /// <summary>
    /// How many events (or dead letters) match per time bucket of <paramref name="width"/>, ignoring
    /// <see cref="LogQuery.Limit"/> and <see cref="LogQuery.Offset"/>: buckets start at multiples of the width since the
    /// Unix epoch (UTC), come oldest first, and only buckets holding a match are listed, so the counts sum to
    /// <see cref="CountAsync"/>.
    /// </summary>
    /// <exception cref="QuerySyntaxException">The expression is not a query.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The width is under a millisecond, or the answer would have more than
    /// <see cref="HistogramBucket.MaxBuckets"/> buckets.</exception>
    Task<IReadOnlyList<HistogramBucket>> HistogramAsync(LogQuery query, TimeSpan width, CancellationToken cancellationToken = default);

    /// <summary>
    /// Every event in [<paramref name="since"/>, <paramref name="until"/>) (null = unbounded), oldest first: what export
    /// and copy stream through.
    /// </summary>
    IAsyncEnumerable<LogEvent> ReadEventsAsync(DateTimeOffset? since, DateTimeOffset? until, CancellationToken cancellationToken = default);

    /// <summary>Every dead letter in [<paramref name="since"/>, <paramref name="until"/>), oldest first.</summary>
    IAsyncEnumerable<DeadLetter> ReadDeadLettersAsync(DateTimeOffset? since, DateTimeOffset? until, CancellationToken cancellationToken = default);
}

/// <summary>One bar of <see cref="ILogStore.HistogramAsync"/>: the bucket's start and the matches in it.</summary>
public readonly record struct HistogramBucket(DateTimeOffset Time, long Count)
{
    /// <summary>The most buckets one histogram may have.</summary>
    public const int MaxBuckets = 100_000;
}

/// <summary>The store named by a URI does not exist (e.g. no database file yet).</summary>
public sealed class LogStoreNotFoundException : Exception
{
    public LogStoreNotFoundException()
    {
    }

    public LogStoreNotFoundException(string message)
        : base(message)
    {
    }

    public LogStoreNotFoundException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>The store exists but cannot be read now (e.g. another process holds a DuckDB file); the message says what to do.</summary>
public sealed class LogStoreUnavailableException : Exception
{
    public LogStoreUnavailableException()
    {
    }

    public LogStoreUnavailableException(string message)
        : base(message)
    {
    }

    public LogStoreUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
