using Conveyor.Logs.Model;

namespace Conveyor.Logs.Sinks;

/// <summary>
/// A store of events, written in batches. A sink is owned by one writer at a time: calls are not concurrent, except
/// <see cref="PrepareBatchAsync"/>, which may run beside any call.
/// </summary>
/// <remarks>
/// A write either stores the whole batch or throws a <see cref="SinkException"/> saying whether trying again can help
/// (<see cref="SinkException.IsTransient"/>). Writes are idempotent on <see cref="LogEvent.Id"/> where the store allows
/// it, so retrying a batch that half-succeeded stores nothing twice. <see cref="IAsyncDisposable.DisposeAsync"/>
/// flushes what was written and then releases the store.
/// Use <see cref="SinkRegistry.OpenAsync"/> to get a sink wrapped with retry and poison isolation.
/// </remarks>
public interface ILogSink : IAsyncDisposable
{
    /// <summary>The sink's name, used as the <c>sink</c> metric tag and in dead-letter records (e.g. <c>sqlite</c>).</summary>
    string Name { get; }

    /// <summary>Stores <paramref name="batch"/>.</summary>
    /// <exception cref="SinkException">The batch was not (completely) stored.</exception>
    ValueTask WriteBatchAsync(IReadOnlyList<LogEvent> batch, CancellationToken cancellationToken);

    /// <summary>
    /// True when <see cref="PrepareBatchAsync"/> does real work off the serialised write (the sink lane then prepares
    /// batches on several workers while one writes). Default false: the lane calls <see cref="WriteBatchAsync"/>.
    /// </summary>
    bool PreparesBatches => false;

    /// <summary>
    /// How many <see cref="WritePreparedAsync"/> calls may run at once (a sink of several writer connections). Default 1:
    /// writes run one at a time. Dead letters are written one call at a time whatever this says.
    /// </summary>
    int ConcurrentWrites => 1;

    /// <summary>
    /// The part of a batch write that needs no store: what <see cref="WritePreparedAsync"/> then writes. Unlike the
    /// other calls it may run on several threads at once, and while a write runs, so it reads no state the writes
    /// change. Default: the batch as it is.
    /// </summary>
    /// <exception cref="SinkException">The sink refuses a record of the batch (permanent).</exception>
    ValueTask<PreparedBatch> PrepareBatchAsync(IReadOnlyList<LogEvent> batch, CancellationToken cancellationToken) =>
        ValueTask.FromResult(new PreparedBatch(batch));

    /// <summary>
    /// Stores a batch <see cref="PrepareBatchAsync"/> made, once: a failed write is retried with a new preparation.
    /// Default: <see cref="WriteBatchAsync"/> of its events.
    /// </summary>
    /// <exception cref="SinkException">The batch was not (completely) stored.</exception>
    ValueTask WritePreparedAsync(PreparedBatch batch, CancellationToken cancellationToken) =>
        WriteBatchAsync(batch.Events, cancellationToken);

    /// <summary>
    /// <see cref="WriteBatchAsync"/> of a sink that <see cref="PreparesBatches"/>: the batch prepared, then written
    /// (what the sink lane does in two steps on different workers, done here in turn).
    /// </summary>
    static async ValueTask PrepareAndWriteAsync(ILogSink sink, IReadOnlyList<LogEvent> batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(sink);
        var prepared = await sink.PrepareBatchAsync(batch, cancellationToken).ConfigureAwait(false);
        await sink.WritePreparedAsync(prepared, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Stores dead-letter records so they stay searchable.</summary>
    /// <exception cref="SinkException">The records were not (completely) stored.</exception>
    ValueTask WriteDeadLettersAsync(IReadOnlyList<DeadLetter> batch, CancellationToken cancellationToken);

    /// <summary>Probes the store; never throws for an unreachable store, it reports it.</summary>
    ValueTask<SinkHealth> CheckHealthAsync(CancellationToken cancellationToken);
}

/// <summary>The result of <see cref="ILogSink.CheckHealthAsync"/>.</summary>
/// <param name="IsHealthy">True when the store accepts writes.</param>
/// <param name="Description">Why not, or a short state summary.</param>
public readonly record struct SinkHealth(bool IsHealthy, string Description)
{
    /// <summary>A healthy result.</summary>
    public static SinkHealth Healthy { get; } = new(true, "ok");

    /// <summary>An unhealthy result with <paramref name="reason"/>.</summary>
    public static SinkHealth Unhealthy(string reason) => new(false, reason);
}
