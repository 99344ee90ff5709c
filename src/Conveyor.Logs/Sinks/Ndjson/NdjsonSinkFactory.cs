namespace Conveyor.Logs.Sinks.Ndjson;

/// <summary><c>ndjson:PATH</c>, or <c>ndjson:-</c> for standard output: an <see cref="NdjsonSink"/>, with retry.</summary>
public static class NdjsonSinkFactory
{
    /// <summary>The registration in <see cref="SinkRegistry"/>.</summary>
    public static SinkRegistration Registration { get; } = new("ndjson", ["ndjson:PATH", "ndjson:-"], Check, Open) { IsStore = true };

    private static string? Check(string remainder, string uri) => remainder.Length == 0 ? "'ndjson:' needs a path" : null;

    private static ValueTask<ILogSink> Open(string remainder, string uri, SinkContext context, CancellationToken cancellationToken) =>
        ValueTask.FromResult(context.Resilient(remainder == "-"
            ? NdjsonSink.ForStream(Console.OpenStandardOutput(), leaveOpen: false, context.TimeProvider)
            : NdjsonSink.Open(new NdjsonSinkOptions { Path = remainder }, context.TimeProvider)));
}
