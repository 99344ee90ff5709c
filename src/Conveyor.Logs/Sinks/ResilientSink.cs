using Conveyor.Logs.Model;
using Microsoft.Extensions.Logging;

namespace Conveyor.Logs.Sinks;

/// <summary>
/// Wraps a store sink with what the failure path needs from it, one write attempt at a time: it classifies the
/// store's errors as transient or permanent for the retry policy (<see cref="IsTransient"/>, <see cref="RetryAfter"/>,
/// <see cref="DefaultRetry"/>) and reports a store whose writes are failing. Its counters are the sink lane's
/// (<c>conveyor.sink.*</c> in <see cref="Conveyor.Diagnostics.MetricNames"/>). It does not retry or bisect: the sink lane's stage does that (the core
/// <see cref="ConsumerStage{TIn}"/>: retry with back-off, halve a permanently failing batch, dead-letter what is left),
/// so there is one failure path and one attempts convention (<see cref="RetryOptions.MaxAttempts"/>: attempts in all).
/// </summary>
/// <remarks>
/// <para>Disposal disposes the inner sink (which flushes it).</para>
/// <para>A store that keeps failing shows at once, while its batch is still being retried: the first failed attempt
/// logs a warning, further ones at most every <c>warningInterval</c> with their count;
/// <see cref="CurrentFailure"/> and <see cref="CheckHealthAsync"/> report it until a write succeeds, which logs the
/// recovery. What holds: <see cref="CurrentFailure"/> is non-null exactly when the latest write attempt failed
/// transiently. Poison (a permanent refusal of the data) says nothing about the store's health and is not counted.</para>
/// </remarks>
public sealed partial class ResilientSink : ILogSink, IReportsSinkFailure
{
    private readonly ILogSink _inner;
    private readonly TimeProvider _time;
    private readonly ILogger? _logger;
    private readonly TimeSpan _warningInterval;
    private readonly Lock _failureLock = new();
    private SinkFailure? _failure;
    private long _lastWarning;
    private long _failuresSinceWarning;

    /// <summary>Wraps <paramref name="inner"/>.</summary>
    /// <param name="inner">The sink to watch; disposed with this one.</param>
    /// <param name="timeProvider">The clock for failure times and warning intervals; <see cref="TimeProvider.System"/> when null.</param>
    /// <param name="logger">Where failing and recovered writes are reported; nowhere when null.</param>
    /// <param name="warningInterval">While writes keep failing, the shortest time between two warnings. Default 10 s.</param>
    public ResilientSink(ILogSink inner, TimeProvider? timeProvider = null, ILogger? logger = null, TimeSpan? warningInterval = null)
    {
        ArgumentNullException.ThrowIfNull(inner);
        if (warningInterval <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(warningInterval), warningInterval, "must be positive");
        }

        _inner = inner;
        _time = timeProvider ?? TimeProvider.System;
        _logger = logger;
        _warningInterval = warningInterval ?? TimeSpan.FromSeconds(10);
    }

    /// <summary>
    /// Whether a sink write that threw <paramref name="error"/> may succeed if tried again: a
    /// <see cref="SinkException"/> says so itself (<see cref="SinkException.IsTransient"/>: false for data the store
    /// refuses); any other error is judged by <see cref="RetryOptions.IsTransientByDefault"/> (an I/O error is worth
    /// retrying, a format error is not).
    /// </summary>
    public static bool IsTransient(Exception error) =>
        error is SinkException s ? s.IsTransient : RetryOptions.IsTransientByDefault(error);

    /// <summary>The wait a store asked for (<see cref="SinkException.RetryAfter"/>, an HTTP <c>Retry-After</c>), else null.</summary>
    public static TimeSpan? RetryAfter(Exception error) => (error as SinkException)?.RetryAfter;

    /// <summary>
    /// The retry policy of sink writes when <c>sinks:N:retry</c> does not say: 61 attempts in all (the first and 60
    /// retries), 200 ms doubling with jitter up to 5 s between them (a few minutes of outage), sink errors classified
    /// by <see cref="IsTransient"/>, and a store's <c>Retry-After</c> believed up to the longest delay.
    /// </summary>
    public static RetryOptions DefaultRetry() => new()
    {
        MaxAttempts = 61,
        BaseDelay = TimeSpan.FromMilliseconds(200),
        MaxDelay = TimeSpan.FromSeconds(5),
        IsTransient = IsTransient,
        RetryAfter = RetryAfter,
    };

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
    /// One attempt to store the batch. A failure is thrown as is, for the caller's retry policy to classify; a
    /// transient one marks the store failing, a success clears that.
    /// </summary>
    public ValueTask WriteBatchAsync(IReadOnlyList<LogEvent> batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        return batch.Count == 0 ? default : AttemptAsync(static (sink, batch, ct) => sink.WriteBatchAsync(batch, ct), batch, cancellationToken);
    }

    /// <inheritdoc />
    public bool PreparesBatches => _inner.PreparesBatches;

    /// <inheritdoc />
    public int ConcurrentWrites => _inner.ConcurrentWrites;

    /// <summary>The inner sink's preparation, not a store attempt: it neither marks the store failing nor clears that.</summary>
    public ValueTask<PreparedBatch> PrepareBatchAsync(IReadOnlyList<LogEvent> batch, CancellationToken cancellationToken) =>
        _inner.PrepareBatchAsync(batch, cancellationToken);

    /// <summary>One attempt to store a prepared batch, watched like <see cref="WriteBatchAsync"/>.</summary>
    public ValueTask WritePreparedAsync(PreparedBatch batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        return batch.Events.Count == 0 ? default : AttemptAsync(static (sink, batch, ct) => sink.WritePreparedAsync(batch, ct), batch, cancellationToken);
    }

    /// <summary>One attempt to store dead letters, watched like <see cref="WriteBatchAsync"/>.</summary>
    public ValueTask WriteDeadLettersAsync(IReadOnlyList<DeadLetter> batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        return batch.Count == 0 ? default : AttemptAsync(static (sink, batch, ct) => sink.WriteDeadLettersAsync(batch, ct), batch, cancellationToken);
    }

    /// <summary>Unhealthy while writes are failing (with how long and how many attempts), else the store's own probe.</summary>
    public ValueTask<SinkHealth> CheckHealthAsync(CancellationToken cancellationToken) =>
        CurrentFailure is { } f
            ? ValueTask.FromResult(SinkHealth.Unhealthy($"writes failing for {(_time.GetUtcNow() - f.Since).TotalSeconds:0} s ({f.Attempts} failed attempts): {f.LastError}"))
            : _inner.CheckHealthAsync(cancellationToken);

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _inner.DisposeAsync();

    /// <summary>One attempt: a transient failure (thrown at once or later) marks the store failing; a success clears it.</summary>
    private async ValueTask AttemptAsync<T>(Func<ILogSink, T, CancellationToken, ValueTask> write, T batch, CancellationToken cancellationToken)
    {
        try
        {
            await write(_inner, batch, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException && IsTransient(e))
        {
            OnAttemptFailed(e);
            throw;
        }

        OnAttemptSucceeded();
    }

    private void OnAttemptFailed(Exception e)
    {
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
}
