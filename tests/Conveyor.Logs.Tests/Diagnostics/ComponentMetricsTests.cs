using System.Net;
using System.Net.Sockets;
using System.Text;
using Conveyor.Diagnostics;
using Conveyor.Logs.Configuration;
using Conveyor.Logs.Model;
using Conveyor.Logs.Parsing;
using Conveyor.Logs.Pipeline;
using Conveyor.Logs.Sinks;
using Conveyor.Logs.Sources.Tcp;
using Conveyor.Logs.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;

namespace Conveyor.Logs.Tests.Diagnostics;

/// <summary>
/// Every topology has a <c>main</c> buffer and a <c>parse</c> stage, so this test reads them alone: no other
/// pipeline test runs beside it, and a disposed topology leaves the metrics at once.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ComponentMetricsCollection
{
    public const string Name = "Component metrics";
}

/// <summary>Every part of a running pipeline reports the same counters, with the same tag keys, on the one meter.</summary>
[Collection(ComponentMetricsCollection.Name)]
public sealed class ComponentMetricsTests
{
    /// <summary>Stores everything; with a gate, waits for it before each batch (a stuck store).</summary>
    private sealed class GatedSink(string name, Task? gate = null) : ILogSink
    {
        private long _events;

        public long Events => Interlocked.Read(ref _events);

        public string Name => name;

        public async ValueTask WriteBatchAsync(IReadOnlyList<LogEvent> batch, CancellationToken cancellationToken)
        {
            if (gate is not null)
            {
                await gate.WaitAsync(cancellationToken);
            }

            Interlocked.Add(ref _events, batch.Count);
        }

        public ValueTask WriteDeadLettersAsync(IReadOnlyList<DeadLetter> batch, CancellationToken cancellationToken) => default;

        public ValueTask<SinkHealth> CheckHealthAsync(CancellationToken cancellationToken) => ValueTask.FromResult(SinkHealth.Healthy);

        public ValueTask DisposeAsync() => default;
    }

    [Fact]
    public async Task RunningPipeline_EverySourceBufferStageAndSink_EmitsReceivedSentDroppedErrorsWithTheSameTags()
    {
        const int Lines = 300;
        var id = Guid.NewGuid().ToString("N")[..8];
        var gate = new TaskCompletionSource();
        var stored = new GatedSink("stored-" + id);
        var dropping = new GatedSink("dropping-" + id, gate.Task);
        var droppingOptions = new SinkOptions { Uri = "null:", Mode = SinkMode.Isolate, BatchMaxItems = 4, Queue = new BufferSettings { Capacity = 8, MaxBytes = 1 << 20, FullMode = FullMode.DropNewest } };
        var storedOptions = new SinkOptions { Uri = "null:", Mode = SinkMode.Isolate };
        var options = new PipelineOptions { Sources = [new SourceOptions { Type = SourceType.Tcp, Port = 1 }], Sinks = [storedOptions, droppingOptions] };
        await using var topology = new LogTopology(options, [new TopologySink(stored.Name, storedOptions, stored), new TopologySink(dropping.Name, droppingOptions, dropping)], NullLogger.Instance);
        var info = new SourceInfo("tcp-" + id, "tcp", LogParsers.Create("json"));
        topology.AddSource(info);
        topology.Start();
        await using (var source = new TcpSource(new SourceOptions { Type = SourceType.Tcp, Host = "127.0.0.1", Port = 0 }, info, topology.Intake, NullLogger.Instance, TimeProvider.System))
        {
            await source.StartAsync(default);
            using (var client = new TcpClient())
            {
                await client.ConnectAsync(IPAddress.Loopback, source.LocalEndpoint!.Port);
                var text = new StringBuilder();
                for (var i = 0; i < Lines; i++)
                {
                    text.Append("{\"msg\":\"m").Append(i).Append("\"}\n");
                }

                await client.GetStream().WriteAsync(Encoding.UTF8.GetBytes(text.ToString()));
            }

            await TestEvents.WaitUntilAsync(() => Task.FromResult(stored.Events == Lines), TimeSpan.FromSeconds(30), "every line stored by the sink that is not stuck");
        }

        gate.SetResult();
        var report = await topology.DrainAsync(TimeSpan.FromSeconds(30));
        Assert.True(report.Completed);

        var points = MetricsReader.Observe("conveyor.component.")
            .Where(p => p.Tag(MetricNames.TagName) is "main" or "parse" || p.Tag(MetricNames.TagName)!.Contains(id, StringComparison.Ordinal))
            .ToList();
        string[] components = ["source:tcp-" + id, "main", "parse", "sink:" + stored.Name, "write:" + stored.Name, "sink:" + dropping.Name, "write:" + dropping.Name];
        foreach (var name in components)
        {
            var mine = points.Where(p => p.Tag(MetricNames.TagName) == name).ToList();
            foreach (var instrument in new[] { MetricNames.ComponentReceived, MetricNames.ComponentSent, MetricNames.ComponentDropped, MetricNames.ComponentDeadLettered, MetricNames.ComponentErrors })
            {
                Assert.Contains(mine, p => p.Instrument == instrument);
            }

            // One tag vocabulary everywhere: component and name, plus reason on drops.
            Assert.All(mine, p => Assert.Equal(
                p.Instrument == MetricNames.ComponentDropped ? [MetricNames.TagComponent, MetricNames.TagName, MetricNames.TagReason] : [MetricNames.TagComponent, MetricNames.TagName],
                p.Tags.Select(static t => t.Key)));

            // Drained: whatever each part received it sent on, dropped or dead-lettered.
            long Sum(string instrument) => mine.Where(p => p.Instrument == instrument).Sum(static p => p.Value);
            Assert.Equal(Sum(MetricNames.ComponentReceived), Sum(MetricNames.ComponentSent) + Sum(MetricNames.ComponentDropped) + Sum(MetricNames.ComponentDeadLettered));
        }

        long Value(string instrument, string name, string? reason = null) =>
            points.Where(p => p.Instrument == instrument && p.Tag(MetricNames.TagName) == name && (reason is null || p.Tag(MetricNames.TagReason) == reason)).Sum(static p => p.Value);
        Assert.Equal(Lines, Value(MetricNames.ComponentReceived, "source:tcp-" + id));
        Assert.Equal(Lines, Value(MetricNames.ComponentSent, "write:" + stored.Name));
        var dropped = Value(MetricNames.ComponentDropped, "sink:" + dropping.Name, "drop_newest");
        Assert.InRange(dropped, 1, Lines - 1);
        Assert.Equal(Lines, Value(MetricNames.ComponentSent, "write:" + dropping.Name) + dropped);
        Assert.Equal(Lines - dropped, dropping.Events);
        Assert.Equal(0, Value(MetricNames.ComponentErrors, "write:" + dropping.Name));
        Assert.Equal(["buffer", "sink", "source", "stage"], points.Select(static p => p.Tag(MetricNames.TagComponent)).Distinct().Order());
    }
}
