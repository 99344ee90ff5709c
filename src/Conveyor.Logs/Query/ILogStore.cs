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
