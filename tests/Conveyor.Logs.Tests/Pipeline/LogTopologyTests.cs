using System.Diagnostics;
using System.Text;
using Conveyor.Logs.Configuration;
using Conveyor.Logs.Model;
using Conveyor.Logs.Parsing;
using Conveyor.Logs.Pipeline;
using Conveyor.Logs.Sinks;
using Conveyor.Logs.Sinks.Null;
using Microsoft.Extensions.Logging.Abstractions;

namespace Conveyor.Logs.Tests.Pipeline;

/// <summary>The topology on its own: every line ends up stored, dead-lettered or counted as dropped, per sink.</summary>
public sealed class LogTopologyTests
{
    private static readonly SourceInfo Source = new("test", "tcp", LogParsers.Create("auto"));

    [Fact]
    public async Task Drain_MixedLines_EveryLineStoredOrDeadLetteredAndReported()
    {
        var sink = new CountingSink();
        await using var topology = Build([new TopologySink("count", new SinkOptions { Uri = "null:" }, sink)]);
        topology.Start();
        for (var i = 0; i < 1000; i++)
        {
            var text = i % 10 == 0 ? "{\u0001 not a log line" : $"10.0.0.{i % 250} - - [27/Nov/2026:10:00:00 +0000] \"GET /{i} HTTP/1.1\" 200 12 \"-\" \"curl/8\"";
            var refusal = i % 100 == 1 ? "too long" : null;
            Assert.True(await topology.Main.Writer.WriteAsync(new RawLine(Encoding.UTF8.GetBytes(text), Source, "test:" + i, DateTimeOffset.UtcNow, refusal)));
        }

        var report = await topology.DrainAsync(TimeSpan.FromSeconds(30));
        Assert.True(report.Completed);
        Assert.Equal(1000, report.ParsedEvents + report.ParseDeadLetters);
        Assert.Equal(110, report.ParseDeadLetters);
        var s = Assert.Single(report.Sinks);
        Assert.Equal((890L, 110L), (s.StoredEvents, s.StoredDeadLetters));
        Assert.Equal(890, sink.Events);
        Assert.Equal(110, sink.DeadLetters);
        Assert.True(sink.Disposed, "draining flushes and disposes the sinks");
    }

    [Fact]
    public async Task Isolate_OneSinkStuck_OtherSinkStoresEverythingAndStuckQueueDropsCounted()
    {
        var stuck = new CountingSink { Gate = new TaskCompletionSource() };
        var fast = new CountingSink();
        var stuckOptions = new SinkOptions { Uri = "null:", Mode = SinkMode.Isolate, BatchMaxItems = 10, Queue = new BufferSettings { Capacity = 20, MaxBytes = 1 << 20, FullMode = FullMode.DropNewest } };
        await using var topology = Build(
        [
            new TopologySink("stuck", stuckOptions, stuck),
            new TopologySink("fast", new SinkOptions { Uri = "null:", Mode = SinkMode.Isolate }, fast),
        ]);
        topology.Start();
        for (var i = 0; i < 500; i++)
        {
            await topology.Main.Writer.WriteAsync(new RawLine(Encoding.UTF8.GetBytes("{\"msg\":\"m" + i + "\"}"), Source, "test:" + i, DateTimeOffset.UtcNow));
        }

        var watch = Stopwatch.StartNew();
        while (fast.Events < 500)
        {
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), $"fast sink stored {fast.Events} of 500 while the other sink is stuck");
            await Task.Delay(10);
        }

        var snapshot = topology.GetSnapshot();
        var stuckState = snapshot.Sinks.Single(static s => s.Sink == "stuck");
        Assert.True(stuckState.Dropped > 0);
        Assert.True(snapshot.Balanced, "admitted = stored + dead-lettered + dropped + in pipeline, for both sinks");

        stuck.Gate.SetResult();
        var report = await topology.DrainAsync(TimeSpan.FromSeconds(30));
        var r = report.Sinks.Single(static s => s.Name == "stuck");
        Assert.Equal(500, r.StoredEvents + r.DroppedAtQueue);
    }

    [Fact]
    public async Task Drain_SinkNeverFinishes_LeftCountedAtDeadline()
    {
        var stuck = new CountingSink { Gate = new TaskCompletionSource() };
        await using var topology = Build([new TopologySink("stuck", new SinkOptions { Uri = "null:", BatchMaxItems = 10 }, stuck)]);
        topology.Start();
        for (var i = 0; i < 100; i++)
        {
            await topology.Main.Writer.WriteAsync(new RawLine(Encoding.UTF8.GetBytes("{\"msg\":1}"), Source, "test:" + i, DateTimeOffset.UtcNow));
        }

        var report = await topology.DrainAsync(TimeSpan.FromMilliseconds(500));
        Assert.False(report.Completed);
        Assert.Equal(100, report.Left);
    }

    [Fact]
    public void RetryAfterSeconds_EmptyBuffer_IsAtLeastOne() =>
        Assert.Equal(1, Build([new TopologySink("n", new SinkOptions { Uri = "null:" }, new NullSink())]).RetryAfterSeconds());

    private static LogTopology Build(IReadOnlyList<TopologySink> sinks)
    {
        var options = new PipelineOptions { Sources = [new SourceOptions { Type = SourceType.Tcp, Port = 1 }], Sinks = [.. sinks.Select(static s => s.Options)] };
        var topology = new LogTopology(options, sinks, NullLogger.Instance);
        topology.AddSource(Source);
        return topology;
    }

    private sealed class CountingSink : ILogSink
    {
        private long _events;
        private long _dead;

        public TaskCompletionSource? Gate { get; init; }

        public long Events => Interlocked.Read(ref _events);

        public long DeadLetters => Interlocked.Read(ref _dead);

        public bool Disposed { get; private set; }

        public string Name => "count";

        public async ValueTask WriteBatchAsync(IReadOnlyList<LogEvent> batch, CancellationToken cancellationToken)
        {
            if (Gate is not null)
            {
                await Gate.Task.WaitAsync(cancellationToken);
            }

            Interlocked.Add(ref _events, batch.Count);
        }

        public ValueTask WriteDeadLettersAsync(IReadOnlyList<DeadLetter> batch, CancellationToken cancellationToken)
        {
            Interlocked.Add(ref _dead, batch.Count);
            return default;
        }

        public ValueTask<SinkHealth> CheckHealthAsync(CancellationToken cancellationToken) => ValueTask.FromResult(SinkHealth.Healthy);

        public ValueTask DisposeAsync()
        {
            Disposed = true;
            return default;
        }
    }
}
