using Conveyor.Logs.Configuration;
using Conveyor.Logs.Diagnostics;
using Conveyor.Logs.Model;
using Conveyor.Logs.Sinks;
using Conveyor.Logs.Sources;
using Microsoft.Extensions.Logging;

namespace Conveyor.Logs.Pipeline;

/// <summary>One sink with its queue and the stage that writes batches to it, and its counters.</summary>
/// <remarks>
/// The lane completes its acknowledgement reference of every record offered to it exactly once (see
/// <see cref="PipelineRecord.Complete"/>): after the sink committed it, when its queue dropped it, when the sink gave
/// up on it, or at the drain deadline.
/// </remarks>
internal sealed partial class SinkLane : IAsyncDisposable
{
    /// <summary>Workers of a lane whose sink prepares batches: one preparing while one writes.</summary>
    private const int PrepareWorkers = 2;

    private readonly TopologySink _sink;
    private ConsumerStage<PipelineRecord>? _stage;
    private ILogger? _logger;
    private RateLimitedLog? _failures;
    private TimeProvider _time = TimeProvider.System;
    private long _storedEvents;
    private long _storedDeadLetters;
    private long _rejected;
    private long _failed;
    private long _notOffered;
    private long _errors;
    private volatile bool _up = true;
    private int _disposed;

    public SinkLane(TopologySink sink, SinkMode mode, BoundedBuffer<PipelineRecord> queue, int index)
    {
        _sink = sink;
        Mode = mode;
        Queue = queue;
        Index = index;
    }

    /// <summary>
    /// A lane with its queue sized from the sink's options: paced, a blocking queue holding at least one batch;
    /// isolated, a deep queue whose own full policy drops (counted, and completed as dropped for lane
    /// <paramref name="index"/>). Not started: <see cref="Start"/> starts its writer.
    /// </summary>
    public static SinkLane Create(TopologySink sink, SinkMode mode, int index, TimeProvider time)
    {
        var q = sink.Options.Queue;
        var capacity = q.Capacity ?? (mode == SinkMode.Pace
            ? Math.Max(SinkOptions.PacedQueueMinCapacity, sink.Options.EffectiveBatchMaxItems)
            : SinkOptions.IsolatedQueueCapacity);
        var queue = new BoundedBuffer<PipelineRecord>(new BufferOptions<PipelineRecord>
        {
            Name = "sink:" + sink.Name,
            Capacity = capacity,
            MaxBytes = sink.Options.EffectiveQueueMaxBytes,
            SizeOf = static r => r.Size,
            FullMode = mode == SinkMode.Pace ? FullMode.Block : q.FullMode,
            BlockTimeout = mode == SinkMode.Pace ? null : q.BlockTimeout,
            TimeProvider = time,
            OnDropped = (r, _) => r.Complete(index, DeliveryOutcome.Dropped),
        });
        return new SinkLane(sink, mode, queue, index);
    }

    /// <summary>The lane's number: its bit in <see cref="PipelineRecord.Complete"/>.</summary>
    public int Index { get; }

    /// <summary>Records the parse workers could not hand to this lane (drain deadline, completed queue).</summary>
    public long NotOfferedCount => Interlocked.Read(ref _notOffered);

    public string Name => _sink.Name;

    public SinkMode Mode { get; }

    public BoundedBuffer<PipelineRecord> Queue { get; }

    public ConsumerStage<PipelineRecord>? Stage => _stage;

    /// <summary>False while the sink's writes are failing (even during retries) or its last probe or write failed.</summary>
    public bool IsUp => _up && CurrentFailure is null;

    /// <summary>The write failure in progress, as the sink's wrapper reports it (during retries too); null while writes succeed.</summary>
    public SinkFailure? CurrentFailure => (_sink.Sink as IReportsSinkFailure)?.CurrentFailure;

    /// <summary>The sink as opened (its wrappers included), for maintenance that looks inside it.</summary>
    public ILogSink Sink => _sink.Sink;

    /// <summary>The sink's connection to a broker, when it has one (looked for inside the retry wrapper).</summary>
    public ILinkStatusSource? Link => _sink.Sink as ILinkStatusSource ?? (_sink.Sink as ResilientSink)?.Inner as ILinkStatusSource;

    public long StoredEvents => Interlocked.Read(ref _storedEvents);

    public long StoredDeadLetters => Interlocked.Read(ref _storedDeadLetters);

    /// <summary>Events the sink refused and that were stored as dead letters instead.</summary>
    public long Rejected => Interlocked.Read(ref _rejected);

    /// <summary>Write attempts (of events or dead letters) that failed transiently, retried or not.</summary>
    public long Errors => Interlocked.Read(ref _errors);

    /// <summary>Records neither stored nor dead-lettered, because the sink failed for good (after its retries).</summary>
    public long Failed => Interlocked.Read(ref _failed);

    public void Start(TimeProvider time, ILogger logger, CancellationToken cancellationToken)
    {
        _logger = logger;
        _time = time;
        _failures = new RateLimitedLog(logger, Name, "record not stored", time, component: "Sink", level: LogLevel.Error);
        // A sink that prepares its batches (ILogSink.PreparesBatches) gets two workers: one prepares the next batch
        // while the other writes, and the writes still run one at a time in the order the batches were taken (the
        // ordered hand-on waits for the previous batch's turn to end, retries and bisection included). A sink that
        // takes several writes at once (ILogSink.ConcurrentWrites, DuckDB's writers) gets that many workers, unordered:
        // an ordered hand-on would run the writes one at a time again. Each worker prepares and then writes its own
        // batch, so the writes overlap each other and the next preparations. Order across batches is lost, which costs
        // nothing the store relies on: its idempotence joins runs wherever they touch, and a batch's rows stay together
        // (zone maps prune by time per row group, and concurrent batches cover nearly the same time). Every record is
        // still completed once, by the one worker that wrote (or dead-lettered) its batch.
        var prepares = _sink.Sink.PreparesBatches;
        var concurrent = prepares ? Math.Max(1, _sink.Sink.ConcurrentWrites) : 1;
        _stage = Conveyor.Stage.ForEachBatch<PipelineRecord, LaneBatch>(
            Queue.Reader,
            PrepareAsync,
            WriteAsync,
            new StageOptions<PipelineRecord>
            {
                Name = "sink:" + Name,
                Workers = prepares ? Math.Max(PrepareWorkers, concurrent) : 1,
                Ordered = prepares && concurrent == 1,
                BatchMaxItems = _sink.Options.EffectiveBatchMaxItems,
                // Half the queue: a batch can only take what the queue holds, and the writer's next batch fills the other half.
                BatchMaxBytes = Math.Max(1, _sink.Options.EffectiveQueueMaxBytes / 2),
                BatchLinger = _sink.Options.EffectiveBatchLinger,

                // The one failure path of sink writes: transient failures are retried here with back-off (attempts
                // in all, the first included: RetryOptions.MaxAttempts), a permanent failure halves the batch until
                // the refused records are alone, and those are dead-lettered by OnSinkFailedAsync. The sink itself
                // makes one attempt per call (ResilientSink classifies its errors and reports the failing store).
                Retry = _sink.Options.Retry,
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

    /// <summary>
    /// Hands <paramref name="records"/> to the queue as batches (whole, unless the batch is larger than half the
    /// queue's bounds, then in slices that fit), waiting for room when the queue blocks. Drops by the queue's policy
    /// are counted and completed by the queue's drop callback. Returns false when the token fired or the queue was
    /// completed first: the records not written then have this lane's references completed as failed.
    /// </summary>
    public async ValueTask<bool> OfferAsync(PipelineRecord[] records, CancellationToken cancellationToken)
    {
        var writer = Queue.Writer;
        var maxItems = Math.Max(1, Queue.Capacity / 2);
        var maxBytes = Math.Max(1, (Queue.MaxBytes ?? long.MaxValue) / 2);
        long bytes = 0;
        foreach (var r in records)
        {
            bytes += r.Size;
        }

        var offered = 0;
        try
        {
            if (records.Length <= maxItems && bytes <= maxBytes)
            {
                await writer.WriteAllAsync(records, cancellationToken).ConfigureAwait(false);
                return true;
            }

            var slice = new List<PipelineRecord>();
            bytes = 0;
            foreach (var r in records)
            {
                if (slice.Count > 0 && (slice.Count == maxItems || bytes + r.Size > maxBytes))
                {
                    await writer.WriteAllAsync(slice, cancellationToken).ConfigureAwait(false);
                    offered += slice.Count;
                    slice.Clear();
                    bytes = 0;
                }

                slice.Add(r);
                bytes += r.Size;
            }

            await writer.WriteAllAsync(slice, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (ex is OperationCanceledException or BufferCompletedException)
        {
            // A batch write is all or none: the slices already written are the queue's, the rest fail here.
            NotOffered(records.AsSpan(offered));
            return false;
        }
    }

    /// <summary>Completes this lane's references of records that never reached its queue, as failed, and counts them.</summary>
    public void NotOffered(ReadOnlySpan<PipelineRecord> records)
    {
        foreach (var r in records)
        {
            r.Complete(Index, DeliveryOutcome.Failed);
        }

        Interlocked.Add(ref _notOffered, records.Length);
    }

    public async Task<(long Left, bool Completed)> DrainAsync(TimeSpan timeout)
    {
        if (_stage is null)
        {
            return (Queue.Count, true);
        }

        var r = await _stage.DrainAsync(timeout).ConfigureAwait(false);
        foreach (var record in r.Left)
        {
            // Idempotent per lane: a record whose write was cancelled may have been completed already.
            record.Complete(Index, DeliveryOutcome.Failed);
        }

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

    private static bool AllEvents(IReadOnlyList<PipelineRecord> batch)
    {
        foreach (var r in batch)
        {
            if (r.Event is null)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// The events of a batch of events alone, read from its records. What holds: the stage keeps the batch unchanged
    /// until its write (the hand-on) has ended, and the view lives no longer than that write.
    /// </summary>
    private sealed class EventsOf(IReadOnlyList<PipelineRecord> records) : IReadOnlyList<LogEvent>
    {
        public int Count => records.Count;

        public LogEvent this[int index] => records[index].Event!;

        public IEnumerator<LogEvent> GetEnumerator()
        {
            foreach (var r in records)
            {
                yield return r.Event!;
            }
        }

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }

    /// <summary>
    /// The first step of a batch write, on any worker: splits the batch into events and dead letters and lets the sink
    /// prepare the events. Reads no lane state, so two batches may be prepared at once.
    /// </summary>
    private async ValueTask<LaneBatch> PrepareAsync(IReadOnlyList<PipelineRecord> batch, CancellationToken cancellationToken)
    {
        IReadOnlyList<LogEvent>? events = null;
        List<DeadLetter>? dead = null;
        if (AllEvents(batch))
        {
            // The usual batch: its events read in place. A copy of 20,000 would be a large-object allocation per
            // batch, and those were what started gen-2 collections under load.
            events = batch.Count > 0 ? new EventsOf(batch) : null;
        }
        else
        {
            List<LogEvent>? list = null;
            foreach (var r in batch)
            {
                if (r.Event is { } e)
                {
                    (list ??= new List<LogEvent>(batch.Count)).Add(e);
                }
                else
                {
                    (dead ??= []).Add(r.DeadLetter!);
                }
            }

            events = list;
        }

        PreparedBatch? prepared = null;
        try
        {
            if (events is not null)
            {
                prepared = await _sink.Sink.PrepareBatchAsync(events, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            OnWriteFailed(ex);
            throw;
        }

        return new LaneBatch(batch, prepared, dead);
    }

    /// <summary>The second step, one batch at a time in take order (several at once, unordered, for a sink of several writers): the store writes, then the counters and completions.</summary>
    private async ValueTask WriteAsync(LaneBatch batch, CancellationToken cancellationToken)
    {
        try
        {
            if (batch.Events is { } events)
            {
                await _sink.Sink.WritePreparedAsync(events, cancellationToken).ConfigureAwait(false);
            }

            if (batch.Dead is { } dead)
            {
                await _sink.Sink.WriteDeadLettersAsync(dead, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            OnWriteFailed(ex);
            throw;
        }

        _up = true;
        Interlocked.Add(ref _storedEvents, batch.Events?.Events.Count ?? 0);
        Interlocked.Add(ref _storedDeadLetters, batch.Dead?.Count ?? 0);
        foreach (var r in batch.Records)
        {
            r.Complete(Index, r.Event is null ? DeliveryOutcome.DeadLettered : DeliveryOutcome.Delivered);
        }
    }

    /// <summary>Before a failed step's error goes to the stage's retry: a failing store (transient) marks the lane down, counted.</summary>
    private void OnWriteFailed(Exception error)
    {
        // A refused record (permanent) says nothing about the store's health; a failing store does.
        if (_sink.Options.Retry.IsTransient(error))
        {
            _up = false;
            Interlocked.Increment(ref _errors);
        }
    }

    /// <summary>
    /// A record the sink could not store: an event the store refuses (alone after bisection), or a record of a batch
    /// whose transient failures outlasted the retries. It is offered to the sink once more as a dead letter (parser
    /// <c>sink:NAME</c>: a store that refuses a record may still keep it as text), in one attempt; if that fails too it
    /// is counted as failed and logged, never silently lost.
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
            _time.GetUtcNow());
        try
        {
            await _sink.Sink.WriteDeadLettersAsync([letter], cancellationToken).ConfigureAwait(false);
            Interlocked.Increment(ref record.Event is null ? ref _storedDeadLetters : ref _rejected);
            record.Complete(Index, DeliveryOutcome.DeadLettered);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            if (_sink.Options.Retry.IsTransient(ex))
            {
                Interlocked.Increment(ref _errors);
            }

            Interlocked.Increment(ref _failed);
            record.Complete(Index, DeliveryOutcome.Failed);
            // A store refusing every record fails each one here: one line each would flood the log (a sink failing
            // 1,000 records/s wrote 1,000 lines/s), so the lines are rate-limited like client faults; the count is
            // in the lane's Failed, on /api/pipeline and in the metrics.
            _failures?.Warn(letter.Id, ex.GetType().Name + ": " + ex.Message + "; counted as failed");
        }
    }

    /// <summary>A batch between its two steps: the records, the sink's preparation of their events, their dead letters.</summary>
    private sealed record LaneBatch(IReadOnlyList<PipelineRecord> Records, PreparedBatch? Events, List<DeadLetter>? Dead);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Error, Message = "Sink {Sink} failed to flush on close")]
    private static partial void LogSinkDisposeFailed(ILogger logger, string sink, Exception error);
}
