using Conveyor.Logs.Model;

namespace Conveyor.Logs.Sinks;

/// <summary>
/// A store of events, written in batches. A sink is owned by one writer at a time: calls are not concurrent.
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
