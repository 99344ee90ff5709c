using System.Diagnostics.Metrics;
using Conveyor.Logs.Model;
using Microsoft.Extensions.Logging;
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
/// <para>Bisection costs O(k log n) extra writes for k poison events in a batch of n; it relies on the inner sink
/// storing a batch all-or-nothing or idempotently, which every Conveyor sink does.
/// Disposal disposes the inner sink (which flushes it).</para>
/// <para>A store that keeps failing shows at once, while its batch is still being retried: the first failed attempt
/// logs a warning, further ones at most every <see cref="ResilientSinkOptions.WarningInterval"/> with their count;
/// <see cref="CurrentFailure"/> and <see cref="CheckHealthAsync"/> report it until a write succeeds, which logs the
/// recovery. What holds: <see cref="CurrentFailure"/> is non-null exactly when the latest write attempt failed
/// transiently. Poison (a permanent refusal of the data) says nothing about the store's health and is not counted.</para>
/// </remarks>
public sealed partial class ResilientSink : ILogSink, IReportsSinkFailure
{
    private readonly ILogSink _inner;
    private readonly TimeProvider _time;
    private readonly ResiliencePipeline _pipeline;
    private readonly SinkMetrics _metrics;
    private readonly ILogger? _logger;
    private readonly TimeSpan _warningInterval;
    private readonly Lock _failureLock = new();
    private SinkFailure? _failure;
    private long _lastWarning;
    private long _failuresSinceWarning;

    /// <summary>Wraps <paramref name="inner"/>.</summary>
    /// <param name="inner">The sink to protect; disposed with this one.</param>
    /// <param name="options">Retry settings; defaults when null.</param>
    /// <param name="timeProvider">The clock for back-off and dead-letter times; <see cref="TimeProvider.System"/> when null.</param>
    /// <param name="meterFactory">Where the counters live; a private <c>Conveyor</c> meter when null.</param>
    /// <param name="logger">Where failing and recovered writes are reported; nowhere when null.</param>
    public ResilientSink(ILogSink inner, ResilientSinkOptions? options = null, TimeProvider? timeProvider = null, IMeterFactory? meterFactory = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(inner);
        options = (options ?? new ResilientSinkOptions()).Validate();
        _inner = inner;
        _time = timeProvider ?? TimeProvider.System;
        _metrics = new SinkMetrics(inner.Name, meterFactory);
        _logger = logger;
        _warningInterval = options.WarningInterval;
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

    /// <inheritdoc />
    public SinkFailure? CurrentFailure
    {
        get
        {
            lock (_failureLock)
            {
                return _failure;
            }
        }
    }

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

        // Whatever part of the batch was stored before a failure is idempotent to store again, so the caller may
        // replay the whole batch. Whether its events are lost is the caller's to know (it may retry, or keep them
        // as dead letters): the count of lost records is kept where that is decided (conveyor.sink.failed).
        _metrics.Received(batch.Count);
        await WriteIsolatingAsync(batch, cancellationToken).ConfigureAwait(false);
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
            static (state, ct) => state.Self.AttemptAsync(static (sink, batch, ct) => sink.WriteDeadLettersAsync(batch, ct), state.Batch, ct),
            (Self: this, Batch: batch),
            cancellationToken).ConfigureAwait(false);
        _metrics.DeadLettered(batch.Count);
    }

    /// <summary>Unhealthy while writes are failing (with how long and how many attempts), else the store's own probe.</summary>
    public ValueTask<SinkHealth> CheckHealthAsync(CancellationToken cancellationToken) =>
        CurrentFailure is { } f
            ? ValueTask.FromResult(SinkHealth.Unhealthy($"writes failing for {(_time.GetUtcNow() - f.Since).TotalSeconds:0} s ({f.Attempts} failed attempts): {f.LastError}"))
            : _inner.CheckHealthAsync(cancellationToken);

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
                static (state, ct) => state.Self.AttemptAsync(static (sink, batch, ct) => sink.WriteBatchAsync(batch, ct), state.Batch, ct),
                (Self: this, Batch: batch),
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

    /// <summary>One attempt: a transient failure (thrown at once or later) marks the store failing; a success clears it.</summary>
    private async ValueTask AttemptAsync<T>(Func<ILogSink, T, CancellationToken, ValueTask> write, T batch, CancellationToken cancellationToken)
    {
        try
        {
            await write(_inner, batch, cancellationToken).ConfigureAwait(false);
        }
        catch (SinkException e) when (e.IsTransient)
        {
            OnAttemptFailed(e);
            throw;
        }

        OnAttemptSucceeded();
    }

    private void OnAttemptFailed(SinkException e)
    {
        _metrics.Error();
        var now = _time.GetUtcNow();
        var timestamp = _time.GetTimestamp();
        bool first;
        bool warn;
        SinkFailure failure;
        long attemptsSinceWarning;
        lock (_failureLock)
        {
            first = _failure is null;
            failure = _failure is { } current
                ? current with { Attempts = current.Attempts + 1, LastError = e.Message }
                : new SinkFailure(1, now, e.Message);
            _failure = failure;
            _failuresSinceWarning++;
            warn = first || _time.GetElapsedTime(_lastWarning, timestamp) >= _warningInterval;
            attemptsSinceWarning = _failuresSinceWarning;
            if (warn)
            {
                _lastWarning = timestamp;
                _failuresSinceWarning = 0;
            }
        }

        if (_logger is null || !warn)
        {
            return;
        }

        if (first)
        {
            LogWriteFailing(_logger, Name, e.Message);
        }
        else
        {
            LogStillFailing(_logger, Name, (now - failure.Since).TotalSeconds, failure.Attempts, attemptsSinceWarning, e.Message);
        }
    }

    private void OnAttemptSucceeded()
    {
        SinkFailure? ended;
        lock (_failureLock)
        {
            ended = _failure;
            _failure = null;
            _failuresSinceWarning = 0;
        }

        if (ended is { } f && _logger is not null)
        {
            LogRecovered(_logger, Name, (_time.GetUtcNow() - f.Since).TotalSeconds, f.Attempts);
        }
    }

    [LoggerMessage(EventId = 2101, Level = LogLevel.Warning, Message = "Sink {Sink}: a write failed and is being retried: {Error}")]
    private static partial void LogWriteFailing(ILogger logger, string sink, string error);

    [LoggerMessage(EventId = 2102, Level = LogLevel.Warning, Message = "Sink {Sink}: writes failing for {Seconds:0} s, {Attempts} failed attempts ({Recent} since the last warning), still retrying: {Error}")]
    private static partial void LogStillFailing(ILogger logger, string sink, double seconds, long attempts, long recent, string error);

    [LoggerMessage(EventId = 2103, Level = LogLevel.Information, Message = "Sink {Sink} recovered: writing again after {Seconds:0} s and {Attempts} failed attempts")]
    private static partial void LogRecovered(ILogger logger, string sink, double seconds, long attempts);

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
