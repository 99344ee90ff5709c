using Conveyor.Logs.Model;
using Conveyor.Logs.Sinks;
using Conveyor.Logs.Tests.Support;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace Conveyor.Logs.Tests.Sinks;

public sealed class ResilientSinkFailureTests
{
    /// <summary>
    /// Fails the first <c>failures</c> writes (events and dead letters alike) transiently, like a full disk that is
    /// then freed; records what the wrapper reported meanwhile.
    /// </summary>
    private sealed class FlakySink(int failures) : ILogSink
    {
        private int _calls;

        public ResilientSink? Outer { get; set; }

        public List<(long? Attempts, bool Healthy)> SeenDuringCalls { get; } = [];

        public int Stored { get; private set; }

        public string Name => "flaky";

        public async ValueTask WriteBatchAsync(IReadOnlyList<LogEvent> batch, CancellationToken cancellationToken)
        {
            var health = await Outer!.CheckHealthAsync(cancellationToken);
            SeenDuringCalls.Add((Outer.CurrentFailure?.Attempts, health.IsHealthy));
            if (++_calls <= failures)
            {
                throw new SinkException("database or disk is full", isTransient: true);
            }

            Stored += batch.Count;
        }

        public ValueTask WriteDeadLettersAsync(IReadOnlyList<DeadLetter> batch, CancellationToken cancellationToken) =>
            ++_calls <= failures ? throw new SinkException("database or disk is full", isTransient: true) : default;

        public ValueTask<SinkHealth> CheckHealthAsync(CancellationToken cancellationToken) => ValueTask.FromResult(SinkHealth.Healthy);

        public ValueTask DisposeAsync() => default;
    }

    [Fact]
    public async Task SinkLane_StoreFailsThenRecovers_ReportsFailingAtOnceThenRecoveredAndLosesNothing()
    {
        var logger = new FakeLogger();
        var inner = new FlakySink(failures: 3);
        await using var sink = new ResilientSink(inner, logger: logger, warningInterval: TimeSpan.FromHours(1));
        inner.Outer = sink;

        // The lane's stage retries (4 attempts in all); the wrapper sees each attempt.
        var report = await SinkLaneHarness.WriteAsync(sink, TestEvents.Batch("f", 10), SinkLaneHarness.QuickRetry(maxAttempts: 4));
        Assert.Equal(10, report.StoredEvents);

        // Before each attempt: healthy, then failing with 1, 2, 3 failed attempts, then the write that succeeds.
        Assert.Equal([(null, true), (1, false), (2, false), (3, false)], inner.SeenDuringCalls);
        Assert.Equal(10, inner.Stored);
        Assert.Null(sink.CurrentFailure);
        Assert.True((await sink.CheckHealthAsync(default)).IsHealthy);
        var records = logger.Collector.GetSnapshot();
        var warning = Assert.Single(records, r => r.Level == LogLevel.Warning);
        Assert.Contains("flaky", warning.Message, StringComparison.Ordinal);
        Assert.Contains("disk is full", warning.Message, StringComparison.Ordinal);
        Assert.Contains(records, r => r.Level == LogLevel.Information && r.Message.Contains("recovered", StringComparison.Ordinal) && r.Message.Contains("3 failed attempts", StringComparison.Ordinal));
    }

    [Fact]
    public async Task SinkLane_KeepsFailing_WarnsAgainOnlyAfterTheIntervalWithTheCountAndCountsEveryRecordFailed()
    {
        var logger = new FakeLogger();
        var inner = new FlakySink(failures: 1000);
        await using var sink = new ResilientSink(inner, logger: logger, warningInterval: TimeSpan.FromMilliseconds(1));
        inner.Outer = sink;
        var retry = SinkLaneHarness.QuickRetry(maxAttempts: 21);
        retry.BaseDelay = retry.MaxDelay = TimeSpan.FromMilliseconds(1);

        var report = await SinkLaneHarness.WriteAsync(sink, TestEvents.Batch("f", 5), retry);

        // 21 attempts at the batch (the first and 20 retries), then one dead-letter attempt per record, all failing:
        // every record is counted failed, none stored.
        Assert.Equal((0L, 0L, 5L), (report.StoredEvents, report.Rejected, report.Failed));
        Assert.Equal(21 + 5, sink.CurrentFailure!.Value.Attempts);
        var health = await sink.CheckHealthAsync(default);
        Assert.False(health.IsHealthy);
        Assert.Contains("26 failed attempts", health.Description, StringComparison.Ordinal);
        var warnings = logger.Collector.GetSnapshot().Where(r => r.Level == LogLevel.Warning).ToList();
        Assert.InRange(warnings.Count, 2, 26);
        Assert.Contains(warnings, w => w.Message.Contains("still retrying", StringComparison.Ordinal));
    }
}
