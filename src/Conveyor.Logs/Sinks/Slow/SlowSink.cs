using Conveyor.Logs.Model;

namespace Conveyor.Logs.Sinks.Slow;

/// <summary>
/// <c>slow:DURATION+URI</c>: waits DURATION before passing each batch to the inner sink, like a struggling database
/// (the seed's 5 ms consumer). Kept in the product to test and demonstrate back-pressure.
/// </summary>
/// <remarks>
/// The inner sink's two-step write and its concurrent writes pass through (the wait is part of the write step, once
/// per batch written): wrapped, a store is the same store with a slower call, so the e2e seed case measures the lane
/// the store really gets, not the one-step lane of a sink that prepares nothing.
/// </remarks>
public sealed class SlowSink : ILogSink, IReportsSinkFailure
{
    private readonly ILogSink _inner;
    private readonly TimeSpan _delay;
    private readonly TimeProvider _time;

    /// <summary>Wraps <paramref name="inner"/> (disposed with this sink).</summary>
    public SlowSink(ILogSink inner, TimeSpan delay, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(inner);
        _inner = inner;
        _delay = delay;
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <inheritdoc />
    public string Name => _inner.Name;

    /// <summary>The sink written to after each wait.</summary>
    public ILogSink Inner => _inner;

    /// <inheritdoc />
    public SinkFailure? CurrentFailure => (_inner as IReportsSinkFailure)?.CurrentFailure;

    /// <inheritdoc />
    public async ValueTask WriteBatchAsync(IReadOnlyList<LogEvent> batch, CancellationToken cancellationToken)
    {
        await Task.Delay(_delay, _time, cancellationToken).ConfigureAwait(false);
        await _inner.WriteBatchAsync(batch, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public bool PreparesBatches => _inner.PreparesBatches;

    /// <inheritdoc />
    public int ConcurrentWrites => _inner.ConcurrentWrites;

    /// <inheritdoc />
    public ValueTask<PreparedBatch> PrepareBatchAsync(IReadOnlyList<LogEvent> batch, CancellationToken cancellationToken) =>
        _inner.PrepareBatchAsync(batch, cancellationToken);

    /// <inheritdoc />
    public async ValueTask WritePreparedAsync(PreparedBatch batch, CancellationToken cancellationToken)
    {
        await Task.Delay(_delay, _time, cancellationToken).ConfigureAwait(false);
        await _inner.WritePreparedAsync(batch, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public ValueTask WriteDeadLettersAsync(IReadOnlyList<DeadLetter> batch, CancellationToken cancellationToken) =>
        _inner.WriteDeadLettersAsync(batch, cancellationToken);

    /// <inheritdoc />
    public ValueTask<SinkHealth> CheckHealthAsync(CancellationToken cancellationToken) => _inner.CheckHealthAsync(cancellationToken);

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _inner.DisposeAsync();
}
