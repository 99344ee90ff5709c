using Conveyor.Logs.Model;

namespace Conveyor.Logs.Sinks.Flaky;

/// <summary>
/// <c>flaky:UP/DOWN+URI</c>: passes batches to the inner sink for UP, then fails every write for DOWN (a transient
/// <see cref="SinkException"/>, as a store that went away throws), and so on from the moment it opened. Kept in the
/// product beside <c>slow:</c> to test and demonstrate a sink that fails for a while and recovers by itself: the
/// retries, the warnings, <c>/ready</c>, and the accounting through the outage (bench/soak/run.sh).
/// </summary>
/// <remarks>
/// As <c>slow:</c>, the inner store's two-step and concurrent writes pass through (a preparation needs no store, so
/// only the write step fails while down): the soak's outage then meets the lane the store really gets.
/// </remarks>
public sealed class FlakySink : ILogSink, IReportsSinkFailure
{
    private readonly ILogSink _inner;
    private readonly TimeSpan _up;
    private readonly TimeSpan _down;
    private readonly TimeProvider _time;
    private readonly long _opened;

    /// <summary>Wraps <paramref name="inner"/> (disposed with this sink); the first UP period starts now.</summary>
    public FlakySink(ILogSink inner, TimeSpan up, TimeSpan down, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(up, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(down, TimeSpan.Zero);
        _inner = inner;
        _up = up;
        _down = down;
        _time = timeProvider ?? TimeProvider.System;
        _opened = _time.GetTimestamp();
    }

    /// <inheritdoc />
    public string Name => _inner.Name;

    /// <summary>The sink written to while up.</summary>
    public ILogSink Inner => _inner;

    /// <summary>True while in a DOWN period.</summary>
    public bool IsDown => _time.GetElapsedTime(_opened).Ticks % (_up + _down).Ticks >= _up.Ticks;

    /// <inheritdoc />
    public SinkFailure? CurrentFailure => (_inner as IReportsSinkFailure)?.CurrentFailure;

    /// <inheritdoc />
    public ValueTask WriteBatchAsync(IReadOnlyList<LogEvent> batch, CancellationToken cancellationToken)
    {
        ThrowIfDown();
        return _inner.WriteBatchAsync(batch, cancellationToken);
    }

    /// <inheritdoc />
    public bool PreparesBatches => _inner.PreparesBatches;

    /// <inheritdoc />
    public int ConcurrentWrites => _inner.ConcurrentWrites;

    /// <inheritdoc />
    public ValueTask<PreparedBatch> PrepareBatchAsync(IReadOnlyList<LogEvent> batch, CancellationToken cancellationToken) =>
        _inner.PrepareBatchAsync(batch, cancellationToken);

    /// <inheritdoc />
    public ValueTask WritePreparedAsync(PreparedBatch batch, CancellationToken cancellationToken)
    {
        ThrowIfDown();
        return _inner.WritePreparedAsync(batch, cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask WriteDeadLettersAsync(IReadOnlyList<DeadLetter> batch, CancellationToken cancellationToken)
    {
        ThrowIfDown();
        return _inner.WriteDeadLettersAsync(batch, cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask<SinkHealth> CheckHealthAsync(CancellationToken cancellationToken) =>
        IsDown ? ValueTask.FromResult(SinkHealth.Unhealthy("flaky: in a down period")) : _inner.CheckHealthAsync(cancellationToken);

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _inner.DisposeAsync();

    private void ThrowIfDown()
    {
        if (IsDown)
        {
            throw new SinkException($"flaky: down for {_down.TotalSeconds:0.###} s of every {(_up + _down).TotalSeconds:0.###} s", isTransient: true);
        }
    }
}
