namespace Conveyor.Logs.Sinks.Postgres;

/// <summary><c>postgres:CONNSTR</c> (also <c>postgresql:</c> when opening): a <see cref="PostgresSink"/>, with retry.</summary>
public static class PostgresSinkFactory
{
    /// <summary>The registration in <see cref="SinkRegistry"/>.</summary>
    public static SinkRegistration Registration { get; } = new("postgres", ["postgres:CONNSTR"], Check, OpenAsync) { IsStore = true, Aliases = ["postgresql"] };

    private static string? Check(string remainder, string uri) => remainder.Length == 0 ? "'postgres:' needs a connection string" : null;

    private static async ValueTask<ILogSink> OpenAsync(string remainder, string uri, SinkContext context, CancellationToken cancellationToken) =>
        context.Resilient(await PostgresSink.OpenAsync(new PostgresSinkOptions { ConnectionString = remainder }, context.TimeProvider, cancellationToken).ConfigureAwait(false));
}
