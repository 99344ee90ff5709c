namespace Conveyor.Logs.Sinks.DuckDb;

/// <summary><c>duckdb:PATH</c>: a <see cref="DuckDbSink"/> on the database file PATH, with retry; the zero-config default store.</summary>
public static class DuckDbSinkFactory
{
    /// <summary>
    /// The registration in <see cref="SinkRegistry"/>. A column store pays a fixed cost per commit (the transaction, its
    /// WAL entry, the merge into the table's row group), so its writes are larger than a row store's: 20,000 events per
    /// batch wrote twice the rows per second of 1,000 in <c>bench/Conveyor.Benchmarks -- duckdb</c>; at the seed's rate a
    /// batch still closes on its linger (100 ms), so latency does not grow.
    /// </summary>
    public static SinkRegistration Registration { get; } = new("duckdb", ["duckdb:PATH"], Check, OpenAsync) {
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
        var options = new DuckDbSinkOptions { Path = remainder, MemoryLimit = settings.MemoryLimit, Threads = settings.Threads, CheckpointThreshold = settings.CheckpointThreshold, Writers = settings.Writers };
        return context.Resilient(await DuckDbSink.OpenAsync(options, context.TimeProvider, cancellationToken).ConfigureAwait(false));
    }
}
