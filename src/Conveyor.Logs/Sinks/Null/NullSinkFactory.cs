namespace Conveyor.Logs.Sinks.Null;

/// <summary><c>null:</c>: a <see cref="NullSink"/> (no retry: it cannot fail).</summary>
public static class NullSinkFactory
{
    /// <summary>The registration in <see cref="SinkRegistry"/>.</summary>
    public static SinkRegistration Registration { get; } = new("null", ["null:"], static (_, _) => null, Open);

    private static ValueTask<ILogSink> Open(string remainder, string uri, SinkContext context, CancellationToken cancellationToken) =>
        ValueTask.FromResult<ILogSink>(new NullSink());
}
