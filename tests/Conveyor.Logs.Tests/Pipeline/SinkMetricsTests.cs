using System.Text;
using Conveyor.Diagnostics;
using Conveyor.Logs.Configuration;
using Conveyor.Logs.Model;
using Conveyor.Logs.Parsing;
using Conveyor.Logs.Pipeline;
using Conveyor.Logs.Sinks;
using Conveyor.Logs.Sinks.Sqlite;
using Conveyor.Logs.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;

namespace Conveyor.Logs.Tests.Pipeline;

public sealed class SinkMetricsTests
{
    [Fact]
    public async Task Drain_BatchWithPoison_CountsWrittenAndDeadLetteredOnceWithSinkTag()
    {
        var name = "sqlite-" + Guid.NewGuid().ToString("N")[..8];
        var path = Path.Combine(TestEvents.TempFolder(), "m.db");
        var sink = new ResilientSink(await SqliteSink.OpenAsync(new SqliteSinkOptions { Path = path, MaxEventBytes = 4096 }));
        var options = new SinkOptions { Uri = "null:", BatchMaxItems = 1000, BatchLinger = TimeSpan.FromSeconds(1) };
        var pipeline = new PipelineOptions { Sources = [new SourceOptions { Type = SourceType.Tcp, Port = 1 }], Sinks = [options] };
        await using var topology = new LogTopology(pipeline, [new TopologySink(name, options, sink)], NullLogger.Instance);
        var source = new SourceInfo("test", "tcp", LogParsers.Create("plain"));
        topology.AddSource(source);
        topology.Start();
        for (var i = 0; i < 100; i++)
        {
            // Line 10 is longer than the store takes: refused, so its batch is bisected and it alone dead-lettered.
            var text = i == 10 ? new string('x', 5000) : "line " + i;
            Assert.True(await topology.Main.Writer.WriteAsync(new RawLine(Encoding.UTF8.GetBytes(text), source, "t:" + i, DateTimeOffset.UtcNow)));
        }

        var report = await topology.DrainAsync(TimeSpan.FromSeconds(30));
        Assert.True(report.Completed);
        var points = MetricsReader.Observe("conveyor.sink.").Where(p => p.Tag(MetricNames.TagSink) == name).ToList();
        long Value(string instrument) => points.Single(p => p.Instrument == instrument).Value;

        // Bisection hands the good events to the store again, but each is written once: the counter says 99, not more.
        Assert.Equal(99, Value(MetricNames.SinkWritten));
        Assert.Equal(1, Value(MetricNames.SinkDeadLettered));

        // A refused event is no store failure, and nothing was lost.
        Assert.Equal(0, Value(MetricNames.SinkErrors));
        Assert.Equal(0, Value(MetricNames.SinkFailed));
        Assert.Equal(1, SqliteTestDb.Scalar(path, "SELECT count(*) FROM dead_letters WHERE id = 't:10' AND parser = 'sink:" + name + "' AND reason LIKE '%MaxEventBytes%'"));
    }
}
