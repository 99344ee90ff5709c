using Conveyor.Logs.Model;

namespace Conveyor.Logs.Sinks.Slow;

/// <summary>
/// <c>slow:DURATION+URI</c>: waits DURATION before passing each batch to the inner sink, like a struggling database
/// (the seed's 5 ms consumer). Kept in the product to test and demonstrate back-pressure.
/// </summary>
public sealed class SlowSink : ILogSink
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

    /// <summary>The sink every batch goes to after the wait.</summary>
    public ILogSink Inner => _inner;

    /// <inheritdoc />
    public async ValueTask WriteBatchAsync(IReadOnlyList<LogEvent> batch, CancellationToken cancellationToken)
    {
        await Task.Delay(_delay, _time, cancellationToken).ConfigureAwait(false);
        await _inner.WriteBatchAsync(batch, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public ValueTask WriteDeadLettersAsync(IReadOnlyList<DeadLetter> batch, CancellationToken cancellationToken) =>
        _inner.WriteDeadLettersAsync(batch, cancellationToken);

    /// <inheritdoc />
    public ValueTask<SinkHealth> CheckHealthAsync(CancellationToken cancellationToken) => _inner.CheckHealthAsync(cancellationToken);

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _inner.DisposeAsync();
}
