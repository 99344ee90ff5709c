namespace Conveyor.Logs.Sinks.Sqlite;

/// <summary><c>sqlite:PATH</c>: a <see cref="SqliteSink"/> on the database file PATH, with retry.</summary>
public static class SqliteSinkFactory
{
    /// <summary>The registration in <see cref="SinkRegistry"/>.</summary>
    public static SinkRegistration Registration { get; } = new("sqlite", ["sqlite:PATH"], Check, OpenAsync) { IsStore = true };

    private static string? Check(string remainder, string uri) => remainder.Length == 0 ? "'sqlite:' needs a path" : null;

    private static async ValueTask<ILogSink> OpenAsync(string remainder, string uri, SinkContext context, CancellationToken cancellationToken) =>
        context.Resilient(await SqliteSink.OpenAsync(new SqliteSinkOptions { Path = remainder }, context.TimeProvider, cancellationToken).ConfigureAwait(false));
}
