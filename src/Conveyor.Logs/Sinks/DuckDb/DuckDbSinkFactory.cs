namespace Conveyor.Logs.Sinks.DuckDb;

/// <summary><c>duckdb:PATH</c>: a <see cref="DuckDbSink"/> on the database file PATH, with retry; the zero-config default store.</summary>
public static class DuckDbSinkFactory
{
    /// <summary>
    /// The registration in <see cref="SinkRegistry"/>. A column store pays a fixed cost per commit, so its writes are
    /// larger than a row store's, and a batch of one whole row group (16,384 events) is compressed by the writer that
    /// appends it instead of going through the write-ahead log and a checkpoint (<see cref="DuckDbStoreConnection"/>):
    /// 0.7× the CPU per row. The queue holds two such batches and the next; the linger (500 ms) lets one fill at the
    /// seed's 50,000 lines/s (~330 ms), which costs that much latency at that rate (docs/BENCHMARKS.md, midday of 2026-12-02).
    /// </summary>
    public static SinkRegistration Registration { get; } = new("duckdb", ["duckdb:PATH"], Check, OpenAsync)
    {
        IsStore = true,

        // One batch fills one row group, so it is compressed by the writer that appends it (DuckDbStoreConnection).
        DefaultBatchMaxItems = DuckDbStoreConnection.RowGroupSize,
        DefaultQueueMaxBytes = 96L << 20,
        DefaultBatchLinger = TimeSpan.FromMilliseconds(500),
    };

    private static string? Check(string remainder, string uri) => remainder.Length == 0 ? "'duckdb:' needs a path" : null;

    private static async ValueTask<ILogSink> OpenAsync(string remainder, string uri, SinkContext context, CancellationToken cancellationToken)
    {
        var settings = context.DuckDb ?? new DuckDbSettings();
        var options = new DuckDbSinkOptions { Path = remainder, MemoryLimit = settings.MemoryLimit, Threads = settings.Threads, CheckpointThreshold = settings.CheckpointThreshold, Writers = settings.Writers, SearchesFirst = settings.SearchesFirst };
        return context.Resilient(await DuckDbSink.OpenAsync(options, context.TimeProvider, cancellationToken).ConfigureAwait(false));
    }
}
