using Conveyor.Logs.Model;

namespace Conveyor.Logs.Sinks.Null;

/// <summary>
/// <c>null:</c>: accepts and discards every batch. For benchmarks of everything before the store, and as the inner
/// sink of <see cref="Slow.SlowSink"/> in overload tests.
/// </summary>
public sealed class NullSink : ILogSink
{
    /// <inheritdoc />
    public string Name => "null";

    /// <inheritdoc />
    public ValueTask WriteBatchAsync(IReadOnlyList<LogEvent> batch, CancellationToken cancellationToken) => default;

    /// <inheritdoc />
    public ValueTask WriteDeadLettersAsync(IReadOnlyList<DeadLetter> batch, CancellationToken cancellationToken) => default;

    /// <inheritdoc />
    public ValueTask<SinkHealth> CheckHealthAsync(CancellationToken cancellationToken) => ValueTask.FromResult(SinkHealth.Healthy);

    /// <inheritdoc />
    public ValueTask DisposeAsync() => default;
}
