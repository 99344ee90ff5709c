using Conveyor.Logs.Configuration;
using Conveyor.Logs.Diagnostics;
using Conveyor.Logs.Model;
using Conveyor.Logs.Sinks;
using Microsoft.Extensions.Logging;

namespace Conveyor.Logs.Pipeline;

/// <summary>
/// Writes events and dead letters to one sink outside the service (<c>conveyor store copy</c>) the way the service
/// does: through a paced <see cref="SinkLane"/>, so a transient failure is retried with back-off, a refused batch is
/// halved until the refused records are alone, and those are stored as dead letters with the store's reason (or
/// counted as failed) while the rest goes on.
/// </summary>
/// <remarks>
/// What holds after <see cref="CompleteAsync"/>: records offered = <see cref="SinkReport.StoredEvents"/> +
/// <see cref="SinkReport.StoredDeadLetters"/> + <see cref="SinkReport.Rejected"/> + <see cref="SinkReport.Failed"/> +
/// records left at its deadline. The queue blocks when full, so a writer faster than the sink waits for it. The sink
/// belongs to the caller: neither <see cref="CompleteAsync"/> nor <see cref="DisposeAsync"/> disposes it.
/// </remarks>
public sealed class SinkWriter : IAsyncDisposable
{
    private readonly SinkLane _lane;

    private SinkWriter(SinkLane lane) => _lane = lane;

    /// <summary>
    /// Starts a lane writing to <paramref name="sink"/> with <paramref name="options"/>' batch, retry and queue settings;
    /// <paramref name="cancellationToken"/> cancels its writes (and so ends <see cref="CompleteAsync"/>).
    /// </summary>
    public static SinkWriter Start(ILogSink sink, SinkOptions options, ILogger logger, TimeProvider? timeProvider = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sink);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        var time = timeProvider ?? TimeProvider.System;
        var lane = SinkLane.Create(new TopologySink(sink.Name, options, sink), SinkMode.Pace, 0, time);
        lane.Start(time, logger, cancellationToken);
        return new SinkWriter(lane);
    }

    /// <summary>The counters so far (for progress); final after <see cref="CompleteAsync"/>.</summary>
    public SinkReport Report() => _lane.Report();

    /// <summary>Queues <paramref name="events"/>, waiting for room. False when cancelled first: those not queued then are counted as not offered.</summary>
    public ValueTask<bool> WriteAsync(IReadOnlyList<LogEvent> events, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(events);
        var records = new PipelineRecord[events.Count];
        for (var i = 0; i < records.Length; i++)
        {
            records[i] = PipelineRecord.ForEvent(events[i], events[i].Body.Length, null);
        }

        return OfferAsync(records, cancellationToken);
    }

    /// <summary>Queues <paramref name="letters"/> to be stored as dead letters, waiting for room; false when cancelled first.</summary>
    public ValueTask<bool> WriteDeadLettersAsync(IReadOnlyList<DeadLetter> letters, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(letters);
        var records = new PipelineRecord[letters.Count];
        for (var i = 0; i < records.Length; i++)
        {
            records[i] = PipelineRecord.ForDeadLetter(letters[i], null);
        }

        return OfferAsync(records, cancellationToken);
    }

    /// <summary>
    /// Ends intake and waits, for at most <paramref name="timeout"/>, until the sink has stored, dead-lettered or
    /// failed every record; at the deadline the writes are cancelled and what is left is counted as failed. Returns
    /// the final counters and how many records were left.
    /// </summary>
    public async Task<(SinkReport Report, long Left)> CompleteAsync(TimeSpan timeout)
    {
        _lane.Queue.Writer.Complete();
        var (left, _) = await _lane.DrainAsync(timeout).ConfigureAwait(false);
        return (_lane.Report(), left);
    }

    /// <summary>Stops the lane's writer at once (the sink is not disposed).</summary>
    public async ValueTask DisposeAsync()
    {
        if (_lane.Stage is { } stage)
        {
            await stage.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Queues records as they are (the tests' acknowledgements ride on them).</summary>
    internal ValueTask<bool> OfferAsync(PipelineRecord[] records, CancellationToken cancellationToken) => _lane.OfferAsync(records, cancellationToken);
}
