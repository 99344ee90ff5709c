using System.Text;
using Conveyor.Diagnostics;
using Conveyor.Logs.Model;
using Conveyor.Logs.Parsing;
using Conveyor.Logs.Sinks;
using Conveyor.Logs.Configuration;
using Conveyor.Logs.Tests.Support;
using Conveyor.Logs.Pipeline;
using Conveyor.Logs.Sources;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Testing;

namespace Conveyor.Logs.Tests.Pipeline;

/// <summary>A sink that loses records: the metric, the pipeline state and the shutdown report give one number.</summary>
public sealed class SinkFailureAccountingTests
{
    private sealed class BrokenStore : ILogSink
    {
        public string Name => "broken";

        public ValueTask WriteBatchAsync(IReadOnlyList<LogEvent> batch, CancellationToken cancellationToken) =>
            throw new SinkException("No space left on device", isTransient: true);

        public ValueTask WriteDeadLettersAsync(IReadOnlyList<DeadLetter> batch, CancellationToken cancellationToken) =>
            throw new SinkException("No space left on device", isTransient: true);

        public ValueTask<SinkHealth> CheckHealthAsync(CancellationToken cancellationToken) => ValueTask.FromResult(SinkHealth.Healthy);

        public ValueTask DisposeAsync() => default;
    }

    [Fact]
    public async Task Drain_SinkLosingRecords_MetricPipelineStateAndReportCountTheSame()
    {
        const int Lines = 37;
        var name = "broken-" + Guid.NewGuid().ToString("N")[..8];
        var sink = new ResilientSink(new BrokenStore());
        var retry = ResilientSink.DefaultRetry();
        retry.MaxAttempts = 1;
        var options = new SinkOptions { Uri = "null:", BatchMaxItems = 10, Retry = retry };
        var pipeline = new PipelineOptions { Sources = [new SourceOptions { Type = SourceType.Tcp, Port = 1 }], Sinks = [options] };
        await using var topology = new LogTopology(pipeline, [new TopologySink(name, options, sink)], NullLogger.Instance);
        var source = new SourceInfo("test", "tcp", LogParsers.Create("json"));
        topology.AddSource(source);
        topology.Start();
        for (var i = 0; i < Lines; i++)
        {
            Assert.True(await topology.Main.Writer.WriteAsync(new RawLine(Encoding.UTF8.GetBytes("{\"msg\":\"m" + i + "\"}"), source, "t:" + i, DateTimeOffset.UtcNow)));
        }

        await TestEvents.WaitUntilAsync(() => Task.FromResult(topology.GetSnapshot().Sinks.Single().Dropped == Lines), TimeSpan.FromSeconds(30), "every record lost");
        var write = topology.GetSnapshot().Stages.Single(s => s.Name == "write:" + name);
        var report = await topology.DrainAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(Lines, write.Dropped["failed"]);
        Assert.False(write.Healthy);
        Assert.True(write.Failures >= 1);
        Assert.Equal(Lines, report.Sinks.Single().Failed);
        Assert.Equal(Lines, FailedMetric(name));
    }

    [Fact]
    public async Task Drain_SinkLosingEveryRecord_LogsABurstOfLinesNotOneLinePerRecord()
    {
        const int Lines = 500;
        var log = new FakeLogger();
        var retry = ResilientSink.DefaultRetry();
        retry.MaxAttempts = 1;
        var options = new SinkOptions { Uri = "null:", BatchMaxItems = 100, Retry = retry };
        var pipeline = new PipelineOptions { Sources = [new SourceOptions { Type = SourceType.Tcp, Port = 1 }], Sinks = [options] };
        await using var topology = new LogTopology(pipeline, [new TopologySink("broken", options, new ResilientSink(new BrokenStore()))], log);
        var source = new SourceInfo("test", "tcp", LogParsers.Create("json"));
        topology.AddSource(source);
        topology.Start();
        for (var i = 0; i < Lines; i++)
        {
            Assert.True(await topology.Main.Writer.WriteAsync(new RawLine(Encoding.UTF8.GetBytes("{\"msg\":\"m" + i + "\"}"), source, "t:" + i, DateTimeOffset.UtcNow)));
        }

        var report = await topology.DrainAsync(TimeSpan.FromSeconds(30));

        // Every record is counted as lost, and the log says so in a rate-limited burst, each line naming the record and why.
        Assert.Equal(Lines, report.Sinks.Single().Failed);
        var lost = log.Collector.GetSnapshot().Where(static r => r.Message.Contains("record not stored", StringComparison.Ordinal)).ToList();
        Assert.Equal(RateLimitedLog.Burst, lost.Count);
        Assert.InRange(log.Collector.GetSnapshot().Count(static r => r.Level >= LogLevel.Error), 1, RateLimitedLog.Burst);
        Assert.All(lost, static r => Assert.Equal(LogLevel.Error, r.Level));
        Assert.All(lost, static r => Assert.Contains("No space left on device; counted as failed", r.Message, StringComparison.Ordinal));
        Assert.All(lost, static r => Assert.StartsWith("Sink broken: record not stored from t:", r.Message, StringComparison.Ordinal));
    }

    /// <summary>The observable <c>conveyor.sink.failed</c> for one sink, read the way an exporter reads it; -1 when absent.</summary>
    private static long FailedMetric(string sink) =>
        MetricsReader.Observe(MetricNames.SinkFailed).SingleOrDefault(p => p.Tag(MetricNames.TagSink) == sink)?.Value ?? -1;
}
