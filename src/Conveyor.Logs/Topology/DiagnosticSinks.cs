using Conveyor.Logs.Amqp;
using Conveyor.Logs.Model;
using Conveyor.Logs.Sinks;
using Conveyor.Logs.Sinks.Amqp;

namespace Conveyor.Logs.Topology;

/// <summary>
/// <c>null:</c>: accepts and discards every batch. For benchmarks of everything before the store, and as the inner
/// sink of <see cref="SlowSink"/> in overload tests.
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

/// <summary>Opens the sinks of a <see cref="PipelineOptions"/>, including the diagnostic <c>null:</c> and <c>slow:</c> ones.</summary>
public static class SinkOpener
{
    /// <summary>Opens every sink; on failure, closes the ones already open and rethrows.</summary>
    public static async Task<IReadOnlyList<TopologySink>> OpenAllAsync(IReadOnlyList<SinkOptions> sinks, TimeProvider? timeProvider, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(sinks);
        var opened = new List<TopologySink>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            foreach (var options in sinks)
            {
                var sink = await OpenAsync(options.Uri, timeProvider, cancellationToken).ConfigureAwait(false);
                var name = sink.Name;
                for (var i = 2; !names.Add(name); i++)
                {
                    name = sink.Name + "-" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
                }

                opened.Add(new TopologySink(name, options, sink));
            }

            return opened;
        }
        catch
        {
            foreach (var s in opened)
            {
                await s.Sink.DisposeAsync().ConfigureAwait(false);
            }

            throw;
        }
    }

    /// <summary>Opens one sink by URI.</summary>
    public static async Task<ILogSink> OpenAsync(string uri, TimeProvider? timeProvider, CancellationToken cancellationToken)
    {
        var (scheme, rest) = SinkUri.Split(uri);
        switch (scheme)
        {
            case "null":
                return new NullSink();
            case "amqp" or "amqps":
                return new ResilientSink(await AmqpSink.OpenAsync(AmqpSettings.Parse(uri), cancellationToken: cancellationToken).ConfigureAwait(false), timeProvider: timeProvider);
            case "slow":
                var plus = rest.IndexOf('+', StringComparison.Ordinal);
                if (plus < 0 || !SinkUri.TryParseDuration(rest[..plus], out var delay))
                {
                    throw new ArgumentException($"expected slow:DURATION+URI (was '{uri}')", nameof(uri));
                }

                var inner = await OpenAsync(rest[(plus + 1)..], timeProvider, cancellationToken).ConfigureAwait(false);
                return new SlowSink(inner, delay, timeProvider);
            default:
                return await LogSinks.OpenAsync(uri, timeProvider: timeProvider, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
    }
}
