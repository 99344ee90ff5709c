using Conveyor.Logs.Model;
using Conveyor.Logs.Sinks;
using Conveyor.Logs.Tests.Support;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace Conveyor.Logs.Tests.Sinks;

public sealed class ResilientSinkFailureTests
{
    /// <summary>Fails the first <c>failures</c> writes transiently, like a full disk that is then freed; records what the wrapper reported meanwhile.</summary>
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

        public ValueTask WriteDeadLettersAsync(IReadOnlyList<DeadLetter> batch, CancellationToken cancellationToken) => default;

        public ValueTask<SinkHealth> CheckHealthAsync(CancellationToken cancellationToken) => ValueTask.FromResult(SinkHealth.Healthy);

        public ValueTask DisposeAsync() => default;
    }

    [Fact]
    public async Task WriteBatchAsync_StoreFailsThenRecovers_ReportsFailingAtOnceThenRecoveredAndLosesNothing()
    {
        var logger = new FakeLogger();
        var inner = new FlakySink(failures: 3);
        var options = new ResilientSinkOptions { BaseDelay = TimeSpan.FromMilliseconds(1), MaxDelay = TimeSpan.FromMilliseconds(2), WarningInterval = TimeSpan.FromHours(1) };
        await using var sink = new ResilientSink(inner, options, logger: logger);
        inner.Outer = sink;

        await sink.WriteBatchAsync(TestEvents.Batch("f", 10), default);

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
    public async Task WriteBatchAsync_KeepsFailing_WarnsAgainOnlyAfterTheIntervalWithTheCount()
    {
        var logger = new FakeLogger();
        var inner = new FlakySink(failures: 1000);
        var options = new ResilientSinkOptions { MaxRetryAttempts = 20, BaseDelay = TimeSpan.FromMilliseconds(1), MaxDelay = TimeSpan.FromMilliseconds(1), WarningInterval = TimeSpan.FromMilliseconds(1) };
        await using var sink = new ResilientSink(inner, options, logger: logger);
        inner.Outer = sink;

        var e = await Assert.ThrowsAsync<SinkException>(async () => await sink.WriteBatchAsync(TestEvents.Batch("f", 5), default));

        Assert.True(e.IsTransient);
        Assert.Equal(21, sink.CurrentFailure!.Value.Attempts);
        var health = await sink.CheckHealthAsync(default);
        Assert.False(health.IsHealthy);
        Assert.Contains("21 failed attempts", health.Description, StringComparison.Ordinal);
        var warnings = logger.Collector.GetSnapshot().Where(r => r.Level == LogLevel.Warning).ToList();
        Assert.InRange(warnings.Count, 2, 21);
        Assert.Contains(warnings, w => w.Message.Contains("still retrying", StringComparison.Ordinal));
    }
}
