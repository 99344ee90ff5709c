using Conveyor.Logs.Configuration;
using Conveyor.Logs.Diagnostics;
using Conveyor.Logs.Model;
using Conveyor.Logs.Pipeline;
using Conveyor.Logs.Sinks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Conveyor.Logs.Tests.Support;

/// <summary>
/// Writes events to a sink the way the service does: through a real <see cref="SinkLane"/> (its queue and its stage's
/// retry, bisection and dead-letter path, by way of <see cref="SinkWriter"/>), so sink tests exercise the one failure
/// path instead of calling the sink.
/// </summary>
internal static class SinkLaneHarness
{
    /// <summary>Fast retries for tests: 4 attempts in all, 10-50 ms apart.</summary>
    public static RetryOptions QuickRetry(int maxAttempts = 4)
    {
        var retry = ResilientSink.DefaultRetry();
        retry.MaxAttempts = maxAttempts;
        retry.BaseDelay = TimeSpan.FromMilliseconds(10);
        retry.MaxDelay = TimeSpan.FromMilliseconds(50);
        return retry;
    }

    /// <summary>
    /// Offers <paramref name="events"/> to a lane writing to <paramref name="sink"/> in batches of at most
    /// <paramref name="batchMaxItems"/>, drains it within <paramref name="deadline"/> (30 s by default) and returns
    /// its report; the sink is not disposed (the writer stops only the lane's stage). Each record's acknowledgement is checked to complete exactly once.
    /// </summary>
    public static async Task<SinkReport> WriteAsync(
        ILogSink sink,
        IReadOnlyList<LogEvent> events,
        RetryOptions? retry = null,
        int batchMaxItems = 1_000,
        TimeSpan? deadline = null,
        TimeProvider? time = null,
        ILogger? logger = null)
    {
        var options = new SinkOptions
        {
            Uri = "null:",
            BatchMaxItems = batchMaxItems,
            BatchLinger = TimeSpan.Zero,
            Retry = retry ?? QuickRetry(),
            Queue = new BufferSettings { Capacity = Math.Max(events.Count, 1) * 2 },
        };
        var completions = 0;
        await using var writer = SinkWriter.Start(sink, options, logger ?? NullLogger.Instance, time);
        var records = events.Select(e => PipelineRecord.ForEvent(e, e.Body.Length, Acknowledgement.Create(1, _ => Interlocked.Increment(ref completions)))).ToArray();
        Assert.True(await writer.OfferAsync(records, CancellationToken.None));
        var (report, left) = await writer.CompleteAsync(deadline ?? TimeSpan.FromSeconds(30));

        // Every record is finished once: stored, refused into a dead letter, lost (counted) or left at the deadline.
        Assert.Equal(records.Length, Volatile.Read(ref completions));
        Assert.Equal(records.Length - left, report.StoredEvents + report.Rejected + report.Failed);
        return report;
    }
}
