using Conveyor.Logs.Configuration;
using Conveyor.Logs.Diagnostics;
using Conveyor.Logs.Model;
using Microsoft.Extensions.Logging;

namespace Conveyor.Logs.Pipeline;

/// <summary>One sink with its queue and the stage that writes batches to it, and its counters.</summary>
internal sealed partial class SinkLane : IAsyncDisposable
{
    private readonly TopologySink _sink;
    private ConsumerStage<PipelineRecord>? _stage;
    private ILogger? _logger;
    private long _storedEvents;
    private long _storedDeadLetters;
    private long _rejected;
    private long _failed;
    private volatile bool _up = true;
    private int _disposed;

    public SinkLane(TopologySink sink, SinkMode mode, BoundedBuffer<PipelineRecord> queue)
    {
        _sink = sink;
        Mode = mode;
        Queue = queue;
    }

    public string Name => _sink.Name;

    public SinkMode Mode { get; }

    public BoundedBuffer<PipelineRecord> Queue { get; }

    public ConsumerStage<PipelineRecord>? Stage => _stage;

    public bool IsUp => _up;

    public long StoredEvents => Interlocked.Read(ref _storedEvents);

    public long StoredDeadLetters => Interlocked.Read(ref _storedDeadLetters);

    /// <summary>Events the sink refused and that were stored as dead letters instead.</summary>
    public long Rejected => Interlocked.Read(ref _rejected);

    /// <summary>Records neither stored nor dead-lettered, because the sink failed for good (after its retries).</summary>
    public long Failed => Interlocked.Read(ref _failed);

    public void Start(TimeProvider time, ILogger logger, CancellationToken cancellationToken)
    {
        _logger = logger;
        _stage = Conveyor.Stage.ForEachBatch<PipelineRecord>(
            Queue.Reader,
            WriteAsync,
            new StageOptions<PipelineRecord>
            {
                Name = "sink:" + Name,
                BatchMaxItems = _sink.Options.BatchMaxItems,
                BatchMaxBytes = 16L << 20,
                BatchLinger = _sink.Options.BatchLinger,

                // The store's resilient wrapper already retries with back-off and isolates poison events; a second
                // layer of retries here would only multiply the wait.
                Retry = new RetryOptions { MaxAttempts = 1 },
                DeadLetter = OnSinkFailedAsync,
                TimeProvider = time,
            },
            cancellationToken);
    }

    public async Task CheckHealthAsync(CancellationToken cancellationToken)
    {
        try
        {
            var health = await _sink.Sink.CheckHealthAsync(cancellationToken).ConfigureAwait(false);
            _up = health.IsHealthy;
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            _up = false;
        }
    }

    public async Task<(long Left, bool Completed)> DrainAsync(TimeSpan timeout)
    {
        if (_stage is null)
        {
            return (Queue.Count, true);
        }

        var r = await _stage.DrainAsync(timeout).ConfigureAwait(false);
        return (r.Left.Count, r.Completed);
    }

    public async Task DisposeSinkAsync(ILogger logger)
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        try
        {
            await _sink.Sink.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            LogSinkDisposeFailed(logger, Name, ex);
        }
    }

    public SinkReport Report()
    {
        var q = Queue.GetStatistics();
        var s = _stage?.GetStatistics() ?? default;
        return new SinkReport
        {
            Name = Name,
            Mode = Mode.ToString().ToLowerInvariant(),
            StoredEvents = StoredEvents,
            StoredDeadLetters = StoredDeadLetters,
            Rejected = Rejected,
            Failed = Failed,
            DroppedAtQueue = q.Dropped,
            Queued = q.Depth,
            InFlight = s.InFlight,
        };
    }

    public async ValueTask DisposeAsync()
    {
        if (_stage is not null)
        {
            await _stage.DisposeAsync().ConfigureAwait(false);
        }

        if (_logger is not null)
        {
            await DisposeSinkAsync(_logger).ConfigureAwait(false);
        }
    }

    private async ValueTask WriteAsync(IReadOnlyList<PipelineRecord> batch, CancellationToken cancellationToken)
    {
        List<LogEvent>? events = null;
        List<DeadLetter>? dead = null;
        foreach (var r in batch)
        {
            if (r.Event is { } e)
            {
                (events ??= new List<LogEvent>(batch.Count)).Add(e);
            }
            else
            {
                (dead ??= []).Add(r.DeadLetter!);
            }
        }

        try
        {
            if (events is not null)
            {
                await _sink.Sink.WriteBatchAsync(events, cancellationToken).ConfigureAwait(false);
            }

            if (dead is not null)
            {
                await _sink.Sink.WriteDeadLettersAsync(dead, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            _up = false;
            throw;
        }

        _up = true;
        Interlocked.Add(ref _storedEvents, events?.Count ?? 0);
        Interlocked.Add(ref _storedDeadLetters, dead?.Count ?? 0);
    }

    /// <summary>
    /// A batch the sink could not store even after its retries: its events are offered to the sink once more as
    /// dead letters (a store that refuses a record may still keep it as text); if that fails too they are counted as
    /// failed and logged, never silently lost.
    /// </summary>
    private async ValueTask OnSinkFailedAsync(DeadLetter<PipelineRecord> failed, CancellationToken cancellationToken)
    {
        var record = failed.Item;
        var letter = record.DeadLetter ?? new DeadLetter(
            record.Event!.Id,
            record.Event.Source,
            "sink:" + Name,
            "sink:" + Name + ": " + failed.Error.Message,
            record.Event.Body,
            DateTimeOffset.UtcNow);
        try
        {
            await _sink.Sink.WriteDeadLettersAsync([letter], cancellationToken).ConfigureAwait(false);
            Interlocked.Increment(ref record.Event is null ? ref _storedDeadLetters : ref _rejected);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            Interlocked.Increment(ref _failed);
            if (_logger is not null)
            {
                LogSinkFailed(_logger, Name, letter.Id, ex);
            }
        }
    }

    [LoggerMessage(EventId = 2001, Level = LogLevel.Error, Message = "Sink {Sink} could not store record {Id}; counted as failed")]
    private static partial void LogSinkFailed(ILogger logger, string sink, string id, Exception error);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Error, Message = "Sink {Sink} failed to flush on close")]
    private static partial void LogSinkDisposeFailed(ILogger logger, string sink, Exception error);
}
