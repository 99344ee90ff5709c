namespace Conveyor.Logs.Sinks.Otlp;

/// <summary><c>otlp://H:P[/PATH]</c> (also <c>otlp+https://</c>): an <see cref="OtlpSink"/>, with retry.</summary>
public static class OtlpSinkFactory
{
    /// <summary>The registration in <see cref="SinkRegistry"/>.</summary>
    public static SinkRegistration Registration { get; } = new("otlp", ["otlp://HOST:PORT"], Check, Open) { Aliases = ["otlp+https"] };

    private static string? Check(string remainder, string uri)
    {
        try
        {
            OtlpSinkOptions.FromUri(uri);
            return null;
        }
        catch (FormatException ex)
        {
            return ex.Message;
        }
    }

    private static ValueTask<ILogSink> Open(string remainder, string uri, SinkContext context, CancellationToken cancellationToken) =>
        ValueTask.FromResult(context.Resilient(OtlpSink.Open(OtlpSinkOptions.FromUri(uri))));
}
