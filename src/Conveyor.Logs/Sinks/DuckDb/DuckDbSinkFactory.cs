namespace Conveyor.Logs.Sinks.DuckDb;

/// <summary><c>duckdb:PATH</c>: a <see cref="DuckDbSink"/> on the database file PATH, with retry; the zero-config default store.</summary>
public static class DuckDbSinkFactory
{
    /// <summary>The registration in <see cref="SinkRegistry"/>.</summary>
    public static SinkRegistration Registration { get; } = new("duckdb", ["duckdb:PATH"], Check, OpenAsync) { IsStore = true };

    private static string? Check(string remainder, string uri) => remainder.Length == 0 ? "'duckdb:' needs a path" : null;

    private static async ValueTask<ILogSink> OpenAsync(string remainder, string uri, SinkContext context, CancellationToken cancellationToken)
    {
        var settings = context.DuckDb ?? new DuckDbSettings();
        var options = new DuckDbSinkOptions { Path = remainder, MemoryLimit = settings.MemoryLimit, Threads = settings.Threads };
        return context.Resilient(await DuckDbSink.OpenAsync(options, context.TimeProvider, cancellationToken).ConfigureAwait(false));
    }
}
