using System.Diagnostics.Metrics;
using Conveyor.Logs.Model;
using Polly;
using Polly.Retry;

namespace Conveyor.Logs.Sinks;

/// <summary>
/// Wraps a sink with the failure handling every sink needs, in one place: transient failures are retried with
/// exponential back-off and jitter; a batch refused permanently is bisected until the poison events are isolated,
/// which are then dead-lettered (with the reason) while the rest of the batch is stored; and the per-sink counters
/// of <see cref="SinkInstrumentNames"/> are kept.
/// </summary>
/// <remarks>
/// Bisection costs O(k log n) extra writes for k poison events in a batch of n; it relies on the inner sink
/// storing a batch all-or-nothing or idempotently, which every Conveyor sink does.
/// Disposal disposes the inner sink (which flushes it).
/// </remarks>
public sealed class ResilientSink : ILogSink
{
    private readonly ILogSink _inner;
    private readonly TimeProvider _time;
    private readonly ResiliencePipeline _pipeline;
    private readonly SinkMetrics _metrics;

    /// <summary>Wraps <paramref name="inner"/>.</summary>
    /// <param name="inner">The sink to protect; disposed with this one.</param>
    /// <param name="options">Retry settings; defaults when null.</param>
    /// <param name="timeProvider">The clock for back-off and dead-letter times; <see cref="TimeProvider.System"/> when null.</param>
    /// <param name="meterFactory">Where the counters live; a private <c>Conveyor</c> meter when null.</param>
    public ResilientSink(ILogSink inner, ResilientSinkOptions? options = null, TimeProvider? timeProvider = null, IMeterFactory? meterFactory = null)
    {
        ArgumentNullException.ThrowIfNull(inner);
        options = (options ?? new ResilientSinkOptions()).Validate();
        _inner = inner;
        _time = timeProvider ?? TimeProvider.System;
        _metrics = new SinkMetrics(inner.Name, meterFactory);
        var builder = new ResiliencePipelineBuilder { TimeProvider = _time };
        if (options.MaxRetryAttempts > 0)
        {
            builder.AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<SinkException>(e => e.IsTransient),
                MaxRetryAttempts = options.MaxRetryAttempts,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = options.BaseDelay,
                MaxDelay = options.MaxDelay,

                // A store that says when to come back (Retry-After) is believed, within the longest delay allowed.
                DelayGenerator = args => ValueTask.FromResult(args.Outcome.Exception is SinkException { RetryAfter: { } after }
                    ? (TimeSpan?)(after < options.MaxDelay ? after : options.MaxDelay)
                    : null),
                OnRetry = _ =>
                {
                    _metrics.Retried();
                    return default;
                },
            });
        }

        _pipeline = builder.Build();
    }

    /// <inheritdoc />
    public string Name => _inner.Name;

    /// <summary>The wrapped sink.</summary>
    public ILogSink Inner => _inner;

    /// <summary>
    /// Stores the batch, dead-lettering events the store refuses. Throws only when transient failures outlast the
    /// retries (or on cancellation); the events of that batch are then counted as failed.
    /// </summary>
    /// <exception cref="SinkException">Retries were exhausted; <see cref="SinkException.IsTransient"/> is true.</exception>
    public async ValueTask WriteBatchAsync(IReadOnlyList<LogEvent> batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.Count == 0)
        {
            return;
        }

        _metrics.Received(batch.Count);
        try
        {
            await WriteIsolatingAsync(batch, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Whatever part of the batch was stored before the failure is idempotent to store again, so the
            // caller may replay the whole batch; count it as failed once here.
            _metrics.Failed(batch.Count);
            throw;
        }
    }

    /// <inheritdoc />
    public async ValueTask WriteDeadLettersAsync(IReadOnlyList<DeadLetter> batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.Count == 0)
        {
            return;
        }

        await _pipeline.ExecuteAsync(
            static (state, ct) => state.Inner.WriteDeadLettersAsync(state.Batch, ct),
            (Inner: _inner, Batch: batch),
            cancellationToken).ConfigureAwait(false);
        _metrics.DeadLettered(batch.Count);
    }

    /// <inheritdoc />
    public ValueTask<SinkHealth> CheckHealthAsync(CancellationToken cancellationToken) => _inner.CheckHealthAsync(cancellationToken);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        try
        {
            await _inner.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            _metrics.Dispose();
        }
    }

    private async ValueTask WriteIsolatingAsync(IReadOnlyList<LogEvent> batch, CancellationToken cancellationToken)
    {
        try
        {
            await _pipeline.ExecuteAsync(
                static (state, ct) => state.Inner.WriteBatchAsync(state.Batch, ct),
                (Inner: _inner, Batch: batch),
                cancellationToken).ConfigureAwait(false);
            _metrics.Written(batch.Count);
            return;
        }
        catch (SinkException e) when (!e.IsTransient)
        {
            if (batch.Count == 1)
            {
                var poison = batch[0];
                var letter = new DeadLetter(poison.Id, poison.Source, "sink:" + _inner.Name, e.Message, poison.Body, _time.GetUtcNow());
                await WriteDeadLettersAsync([letter], cancellationToken).ConfigureAwait(false);
                return;
            }
        }

        // The batch holds at least one event the store refuses: halve it until each refusal is one event.
        var half = batch.Count / 2;
        await WriteIsolatingAsync(Slice(batch, 0, half), cancellationToken).ConfigureAwait(false);
        await WriteIsolatingAsync(Slice(batch, half, batch.Count - half), cancellationToken).ConfigureAwait(false);
    }

    private static ArraySegment<LogEvent> Slice(IReadOnlyList<LogEvent> batch, int start, int count)
    {
        if (batch is ArraySegment<LogEvent> segment)
        {
            return segment.Slice(start, count);
        }

        var copy = new LogEvent[count];
        for (var i = 0; i < count; i++)
        {
            copy[i] = batch[start + i];
        }

        return copy;
    }
}
