using System.Diagnostics;
using System.Text;
using Conveyor.Logs.Configuration;
using Conveyor.Logs.Model;
using Conveyor.Logs.Parsing;
using Conveyor.Logs.Pipeline;
using Conveyor.Logs.Sinks;
using Conveyor.Logs.Sinks.Null;
using Conveyor.Logs.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

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

    [Theory]
    [InlineData("null:", null, 1, 4_096)] // paced, batch 1,000: the floor
    [InlineData("duckdb:/nowhere/c.duckdb", null, 1, 16_384)] // paced: the store's 16,384-event batch, one row group
    [InlineData("null:", 10_000, 1, 10_000)] // paced: a configured batch size
    [InlineData("null:", null, 2, 50_000)] // isolated: deep, so a sink can fall behind without drops
    public async Task SinkQueue_CapacityNotSet_PacedHoldsOneBatchIsolatedStaysDeep(string uri, int? batch, int sinkCount, int expected)
    {
        var sinks = Enumerable.Range(0, sinkCount)
            .Select(i => new TopologySink("s" + i, new SinkOptions { Uri = uri, BatchMaxItems = batch }, new CountingSink()))
            .ToList();
        await using var topology = Build(sinks);
        Assert.All(topology.Lanes, lane => Assert.Equal(expected, lane.Queue.Capacity));
    }

    [Theory]
    [InlineData("duckdb:/nowhere/c.duckdb", 96L << 20, 500)] // two 16,384-event batches and room for the next
    [InlineData("slow:5ms+duckdb:/nowhere/c.duckdb", 96L << 20, 500)] // a wrapper takes the store's defaults
    [InlineData("flaky:1s/1s+duckdb:/nowhere/c.duckdb", 96L << 20, 500)]
    [InlineData("null:", 32L << 20, 100)]
    public async Task SinkQueue_BytesAndLingerNotSet_AreTheSinksOwn(string uri, long expectedBytes, int expectedLingerMs)
    {
        var options = new SinkOptions { Uri = uri };
        await using var topology = Build([new TopologySink("s", options, new CountingSink())]);
        Assert.Equal(expectedBytes, Assert.Single(topology.Lanes).Queue.MaxBytes);
        Assert.Equal(TimeSpan.FromMilliseconds(expectedLingerMs), options.EffectiveBatchLinger);
    }

    [Fact]
    public async Task SinkQueue_BytesAndLingerSet_AreKept()
    {
        var options = new SinkOptions { Uri = "duckdb:/nowhere/c.duckdb", BatchLinger = TimeSpan.FromMilliseconds(20), Queue = new BufferSettings { MaxBytes = 4L << 20 } };
        await using var topology = Build([new TopologySink("s", options, new CountingSink())]);
        Assert.Equal(4L << 20, Assert.Single(topology.Lanes).Queue.MaxBytes);
        Assert.Equal(TimeSpan.FromMilliseconds(20), options.EffectiveBatchLinger);
    }

    [Fact]
    public async Task Snapshot_BatchGatheringDuringItsLinger_CountsItsEventsInPipeline()
    {
        // A batch of at most 1,000 that lingers an hour: the lane's reader takes the 10 events out of the queue and
        // waits for more, so they are neither queued nor in the stage's count, and still in the pipeline.
        var sink = new CountingSink();
        var options = new SinkOptions { Uri = "null:", BatchMaxItems = 1_000, BatchLinger = TimeSpan.FromHours(1) };
        await using var topology = Build([new TopologySink("s", options, sink)]);
        topology.Start();
        for (var i = 0; i < 10; i++)
        {
            await topology.Main.Writer.WriteAsync(new RawLine(Encoding.UTF8.GetBytes("{\"msg\":\"m" + i + "\"}"), Source, "test:" + i, DateTimeOffset.UtcNow));
        }

        var lane = Assert.Single(topology.Lanes);
        await TestEvents.WaitUntilAsync(() => Task.FromResult(lane.Queue.GetStatistics().Read == 10), TimeSpan.FromSeconds(20), "the lane's reader takes all 10");
        var snapshot = topology.GetSnapshot();
        var state = Assert.Single(snapshot.Sinks);
        Assert.Equal(0, sink.Events);
        Assert.Equal(10, state.Admitted);
        Assert.Equal(10, state.InPipeline);
        Assert.True(snapshot.Balanced, "admitted = stored + dead-lettered + dropped + in pipeline while a batch gathers");
    }

    [Fact]
    public async Task SinkQueue_CapacitySet_IsKeptInEitherMode()
    {
        var options = new SinkOptions { Uri = "null:", Queue = new BufferSettings { Capacity = 123, FullMode = FullMode.DropNewest } };
        await using var topology = Build([new TopologySink("s", options, new CountingSink())]);
        Assert.Equal(123, Assert.Single(topology.Lanes).Queue.Capacity);
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

        // The lane counts a batch stored after the sink's write returns: wait for the lane's count, not the sink's own,
        // so nothing is still between the two when the balance is read.
        await TestEvents.WaitUntilAsync(
            () => Task.FromResult(topology.GetSnapshot().Sinks.Single(static s => s.Sink == "fast").Stored == 500),
            TimeSpan.FromSeconds(20),
            "the fast sink's lane stores all 500 while the other sink is stuck");
        Assert.Equal(500, fast.Events);

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
    public async Task Snapshot_HandOnWaitsForRoomInAFullSinkQueue_ParseStageCountsTheBatchInFlightNotSent()
    {
        // A stuck store, a sink queue of 20 and parse batches of 50: the worker parses a batch and then waits in the
        // hand-on for room. That batch is still in the stage: counted as sent too, the stage's sum would be off by 50.
        var stuck = new CountingSink { Gate = new TaskCompletionSource() };
        var options = new SinkOptions { Uri = "null:", Mode = SinkMode.Pace, BatchMaxItems = 10, Queue = new BufferSettings { Capacity = 20 } };
        await using var topology = Build([new TopologySink("stuck", options, stuck)], workers: 1, batchSize: 50);

        // Queued before the worker starts, so it takes full batches of 50 (started first, it could take a short one
        // and wait with that in its hand-on).
        for (var i = 0; i < 300; i++)
        {
            await topology.Main.Writer.WriteAsync(new RawLine(Encoding.UTF8.GetBytes("{\"msg\":\"m" + i + "\"}"), Source, "test:" + i, DateTimeOffset.UtcNow));
        }

        topology.Start();

        var watch = Stopwatch.StartNew();
        // Still: the writer holds its first 10 in the stuck write, 20 wait in the queue, and the parse worker holds its
        // batch of 50 in the hand-on (the queue can be full a moment before the writer takes its batch, too).
        while (!(topology.GetSnapshot().Stages.Single(static s => s.Name == "parse").Buffered == 50
            && topology.Lanes[0].Stage!.GetStatistics().InFlight == 10
            && topology.Lanes[0].Queue.Count == 20))
        {
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), "the parse worker never waited to hand a parsed batch on into the full sink queue");
            await Task.Delay(10);
        }

        var snapshot = topology.GetSnapshot();
        var parse = snapshot.Stages.Single(static s => s.Name == "parse");
        Assert.True(parse.Balanced, $"parse: received {parse.Received} = sent {parse.Sent} + dead-lettered {parse.DeadLettered} + in flight {parse.Buffered} + left {parse.Left}");
        Assert.Equal(parse.Received - 50, parse.Sent);
        Assert.True(snapshot.Balanced, "every stage and sink balances while the hand-on waits");

        stuck.Gate.SetResult();
        var report = await topology.DrainAsync(TimeSpan.FromSeconds(30));
        Assert.True(report.Completed);
        Assert.Equal(300, stuck.Events);
        Assert.True(topology.GetSnapshot().Balanced);
    }

    [Fact]
    public async Task ParseWorkers_BacklogWaits_OneMoreEachSecondUpToTheMost_AndBackToTheFewestWhenIdle()
    {
        // A stuck store holds the one parse worker in its hand-on, so the main buffer's backlog stays above a batch:
        // each one-second look adds a worker up to parse:workers; once everything is stored and nothing waits, three
        // idle looks retire the extra one. The clock is fake, so the looks happen exactly when the test says.
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var stuck = new CountingSink { Gate = new TaskCompletionSource() };
        var sinkOptions = new SinkOptions { Uri = "null:", Mode = SinkMode.Pace, BatchMaxItems = 10, Queue = new BufferSettings { Capacity = 20 } };
        var options = new PipelineOptions
        {
            Sources = [new SourceOptions { Type = SourceType.Tcp, Port = 1 }],
            Sinks = [sinkOptions],
        };
        options.Parse.Workers = 2;
        options.Parse.MinWorkers = 1;
        options.Parse.BatchSize = 10;
        await using var topology = new LogTopology(options, [new TopologySink("stuck", sinkOptions, stuck)], NullLogger.Instance, time);
        topology.AddSource(Source);
        for (var i = 0; i < 1000; i++)
        {
            await topology.Main.Writer.WriteAsync(new RawLine(Encoding.UTF8.GetBytes("{\"msg\":\"m" + i + "\"}"), Source, "test:" + i, DateTimeOffset.UtcNow));
        }

        topology.Start();
        var parse = topology.ParseStage!;
        Assert.Equal(1, parse.GetStatistics().Workers);
        await TestEvents.WaitUntilAsync(() => Task.FromResult(topology.Lanes[0].Queue.Count == 20), TimeSpan.FromSeconds(20), "the sink queue to fill behind the stuck store");

        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(2, parse.GetStatistics().Workers);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(2, parse.GetStatistics().Workers);

        stuck.Gate.SetResult();
        await TestEvents.WaitUntilAsync(() => Task.FromResult(stuck.Events == 1000), TimeSpan.FromSeconds(20), "the backlog to be stored");
        for (var i = 0; i < 3; i++)
        {
            time.Advance(TimeSpan.FromSeconds(1));
        }

        Assert.Equal(1, parse.GetStatistics().Workers);
        var report = await topology.DrainAsync(TimeSpan.FromSeconds(30));
        Assert.True(report.Completed);
        var r = report.Sinks.Single();
        Assert.Equal((1000L, 0L, 0L), (r.StoredEvents, r.StoredDeadLetters, r.DroppedAtQueue + report.DroppedAtMain + r.Failed));
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
    public async Task Acknowledgements_TwoSinksOneSlowOneDropping_EachUnitFiresOnceAfterEverySinkFinishedIt()
    {
        var slow = new CountingSink { PerBatch = TimeSpan.FromMilliseconds(1) };
        var dropping = new CountingSink { Gate = new TaskCompletionSource() };
        var droppingOptions = new SinkOptions { Uri = "null:", Mode = SinkMode.Isolate, BatchMaxItems = 4, Queue = new BufferSettings { Capacity = 8, MaxBytes = 1 << 20, FullMode = FullMode.DropNewest } };
        await using var topology = Build(
        [
            new TopologySink("slow", new SinkOptions { Uri = "null:", Mode = SinkMode.Pace, BatchMaxItems = 16 }, slow),
            new TopologySink("dropping", droppingOptions, dropping),
        ]);
        topology.Start();

        const int units = 300;
        var fired = new int[units];
        var outcomes = new DeliveryOutcome[units];
        var ids = new string[units][];
        var early = new System.Collections.Concurrent.ConcurrentBag<string>();
        var sent = 0;
        for (var u = 0; u < units; u++)
        {
            var unit = u;
            var lines = new List<RawLine>();
            for (var i = 0; i < 1 + (u % 10); i++)
            {
                // Every seventh unit has a line its source refused (over-long): it becomes a dead letter.
                var refusal = u % 7 == 0 && i == 0 ? "too long" : null;
                lines.Add(new RawLine(Encoding.UTF8.GetBytes("{\"msg\":\"u" + u + " l" + i + "\"}"), Source, $"test:{u}:{i}", DateTimeOffset.UtcNow, refusal));
            }

            ids[unit] = [.. lines.Select(static l => l.Id)];
            RawLine.Acknowledge(lines, outcome =>
            {
                outcomes[unit] = outcome;
                if (Interlocked.Increment(ref fired[unit]) == 1 && ids[unit].Any(id => !slow.Stored.ContainsKey(id)))
                {
                    early.Add($"unit {unit} fired before the slow sink committed all of its lines");
                }
            });
            foreach (var line in lines)
            {
                Assert.True(await topology.Main.Writer.WriteAsync(line));
                sent++;
            }
        }

        // The slow sink takes everything (it paces the pipeline); the dropping sink is stuck, so its queue drops.
        var watch = Stopwatch.StartNew();
        while (slow.Events + slow.DeadLetters < sent)
        {
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), $"slow sink stored {slow.Events + slow.DeadLetters} of {sent}");
            await Task.Delay(10);
        }

        Assert.True(topology.GetSnapshot().Sinks.Single(static s => s.Sink == "dropping").Dropped > 0, "the stuck sink's queue dropped");
        dropping.Gate.SetResult();
        var report = await topology.DrainAsync(TimeSpan.FromSeconds(30));
        Assert.True(report.Completed);

        Assert.Empty(early);
        Assert.All(fired, static f => Assert.Equal(1, f));
        foreach (var r in report.Sinks)
        {
            Assert.Equal(sent, r.StoredEvents + r.StoredDeadLetters + r.DroppedAtQueue + r.Failed);
        }

        for (var u = 0; u < units; u++)
        {
            var expected = ids[u].Any(id => !dropping.Stored.ContainsKey(id)) ? DeliveryOutcome.Dropped
                : u % 7 == 0 ? DeliveryOutcome.DeadLettered
                : DeliveryOutcome.Delivered;
            Assert.True(expected == outcomes[u], $"unit {u}: expected {expected}, fired {outcomes[u]}");
        }

        // Which units escape the stuck sink's drops depends on timing; each unit's outcome is checked exactly above.
        Assert.Contains(DeliveryOutcome.Dropped, outcomes);
    }

    [Fact]
    public async Task Acknowledgements_SinkNeverFinishes_LeftFailAtDeadlineOncePerUnit()
    {
        var stuck = new CountingSink { Gate = new TaskCompletionSource() };
        await using var topology = Build([new TopologySink("stuck", new SinkOptions { Uri = "null:", BatchMaxItems = 10 }, stuck)]);
        topology.Start();
        var fired = new int[10];
        var outcomes = new DeliveryOutcome[10];
        for (var u = 0; u < 10; u++)
        {
            var unit = u;
            var lines = Enumerable.Range(0, 10).Select(i => new RawLine(Encoding.UTF8.GetBytes("{\"msg\":1}"), Source, $"test:{unit}:{i}", DateTimeOffset.UtcNow)).ToList();
            RawLine.Acknowledge(lines, outcome =>
            {
                outcomes[unit] = outcome;
                Interlocked.Increment(ref fired[unit]);
            });
            foreach (var line in lines)
            {
                await topology.Main.Writer.WriteAsync(line);
            }
        }

        var report = await topology.DrainAsync(TimeSpan.FromMilliseconds(500));
        Assert.False(report.Completed);
        Assert.All(fired, static f => Assert.Equal(1, f));
        Assert.All(outcomes, static o => Assert.Equal(DeliveryOutcome.Failed, o));
    }

    [Fact]
    public void RetryAfterSeconds_EmptyBuffer_IsAtLeastOne() =>
        Assert.Equal(1, Build([new TopologySink("n", new SinkOptions { Uri = "null:" }, new NullSink())]).RetryAfterSeconds());

    [Fact]
    public async Task Drain_AutoSourceWithManyFormats_SnapshotCountsEachFormatExactly()
    {
        // Four parse workers increment the counters at once; every count must still come out exact.
        var source = new SourceInfo("mixed", "tcp", LogParsers.Create("auto"));
        var sink = new CountingSink();
        await using var topology = Build([new TopologySink("count", new SinkOptions { Uri = "null:" }, sink)], source, workers: 4);
        topology.Start();
        string[] shapes =
        [
            "10.0.0.1 - - [27/Nov/2026:10:00:00 +0000] \"GET / HTTP/1.1\" 200 12 \"-\" \"curl/8\"",
            "10.0.0.1 - - [27/Nov/2026:10:00:00 +0000] \"GET / HTTP/1.1\" - -",
            "{\"msg\":\"hi\",\"took\":0.0}",
            "payment failed for order 42",
            "ERROR card declined",
            "{broken",
        ];
        const int rounds = 2000;
        for (var i = 0; i < rounds * shapes.Length; i++)
        {
            var raw = new RawLine(Encoding.UTF8.GetBytes(shapes[i % shapes.Length]), source, "mixed:" + i, DateTimeOffset.UtcNow);
            Assert.True(await topology.Main.Writer.WriteAsync(raw));
        }

        var report = await topology.DrainAsync(TimeSpan.FromSeconds(60));
        Assert.True(report.Completed);
        var formats = topology.GetSnapshot().Stages.Single(static s => s.Name == "source:mixed").Formats;
        Assert.Equal(new Dictionary<string, long> { ["combined"] = rounds, ["common"] = rounds, ["json"] = rounds, ["plain"] = 2 * rounds }, formats);
        Assert.Equal((5L * rounds, (long)rounds), (sink.Events, sink.DeadLetters));
    }

    [Fact]
    public async Task Ordered_FourWorkersFourConcurrentSources_EachSourceReachesTheSinkInOrder()
    {
        // A parser that takes a random time per line, so batches taken later are often parsed first.
        const int perSource = 5_000;
        var sources = Enumerable.Range(0, 4).Select(static k => new SourceInfo("s" + k, "tcp", new RandomDelayParser(LogParsers.Create("json")))).ToArray();
        var sink = new OrderSink();
        await using var topology = Build([new TopologySink("order", new SinkOptions { Uri = "null:", BatchMaxItems = 64 }, sink)], sources[0], workers: 4, batchSize: 16);
        foreach (var source in sources.Skip(1))
        {
            topology.AddSource(source);
        }

        topology.Start();
        var senders = sources.Select(source => Task.Run(async () =>
        {
            for (var n = 0; n < perSource; n++)
            {
                // Every 50th line was refused by its source (over-long): a dead letter, in order among the dead letters.
                var refusal = n % 50 == 7 ? "too long" : null;
                Assert.True(await topology.Main.Writer.WriteAsync(new RawLine(Encoding.UTF8.GetBytes("{\"n\":" + n + "}"), source, $"{source.Name}:{n}", DateTimeOffset.UtcNow, refusal)));
            }
        })).ToArray();
        await Task.WhenAll(senders).WaitAsync(TimeSpan.FromSeconds(60));
        var report = await topology.DrainAsync(TimeSpan.FromSeconds(60));

        Assert.True(report.Completed);
        const int sent = 4 * perSource;
        var r = Assert.Single(report.Sinks);
        Assert.Equal(sent, r.StoredEvents + r.StoredDeadLetters + r.DroppedAtQueue + report.DroppedAtMain + r.Failed);
        Assert.Equal((sent - (4 * 100L), 4 * 100L, 0L), (r.StoredEvents, r.StoredDeadLetters, r.DroppedAtQueue + report.DroppedAtMain + r.Failed));
        foreach (var source in sources)
        {
            var events = sink.Numbers(source.Name, deadLetters: false);
            var dead = sink.Numbers(source.Name, deadLetters: true);
            Assert.Equal(Enumerable.Range(0, perSource).Where(static n => n % 50 != 7), events);
            Assert.Equal(Enumerable.Range(0, perSource).Where(static n => n % 50 == 7), dead);
        }
    }

    private static LogTopology Build(IReadOnlyList<TopologySink> sinks, SourceInfo? source = null, int? workers = null, int? batchSize = null)
    {
        var options = new PipelineOptions
        {
            Sources = [new SourceOptions { Type = SourceType.Tcp, Port = 1 }],
            Sinks = [.. sinks.Select(static s => s.Options)],
        };
        options.Parse.Workers = workers ?? options.Parse.Workers;

        // As many workers from the start as the test asks for (they would otherwise follow the backlog).
        options.Parse.MinWorkers = options.Parse.Workers;
        options.Parse.BatchSize = batchSize ?? options.Parse.BatchSize;
        var topology = new LogTopology(options, sinks, NullLogger.Instance);
        topology.AddSource(source ?? Source);
        return topology;
    }

    /// <summary>Parses as <paramref name="inner"/> does, after spinning a random while (a line that is slow to parse).</summary>
    private sealed class RandomDelayParser(ILogParser inner) : ILogParser
    {
        public string Name => inner.Name;

        public ParseOutcome Parse(ReadOnlySpan<byte> line, in LineContext context)
        {
            if (Random.Shared.Next(8) == 0)
            {
                Thread.SpinWait(Random.Shared.Next(20_000));
            }

            return inner.Parse(line, context);
        }
    }

    /// <summary>Records, per source, the line numbers of the events and dead letters it stores, in the order stored.</summary>
    private sealed class OrderSink : ILogSink
    {
        private readonly List<string> _events = [];
        private readonly List<string> _dead = [];

        public string Name => "order";

        public int[] Numbers(string source, bool deadLetters)
        {
            var ids = deadLetters ? _dead : _events;
            lock (ids)
            {
                return [.. ids.Where(id => id.StartsWith(source + ":", StringComparison.Ordinal)).Select(static id => int.Parse(id[(id.IndexOf(':', StringComparison.Ordinal) + 1)..], System.Globalization.CultureInfo.InvariantCulture))];
            }
        }

        public ValueTask WriteBatchAsync(IReadOnlyList<LogEvent> batch, CancellationToken cancellationToken)
        {
            lock (_events)
            {
                _events.AddRange(batch.Select(static e => e.Id));
            }

            return default;
        }

        public ValueTask WriteDeadLettersAsync(IReadOnlyList<DeadLetter> batch, CancellationToken cancellationToken)
        {
            lock (_dead)
            {
                _dead.AddRange(batch.Select(static d => d.Id));
            }

            return default;
        }

        public ValueTask<SinkHealth> CheckHealthAsync(CancellationToken cancellationToken) => ValueTask.FromResult(SinkHealth.Healthy);

        public ValueTask DisposeAsync() => default;
    }

    private sealed class CountingSink : ILogSink
    {
        private long _events;
        private long _dead;

        public TaskCompletionSource? Gate { get; init; }

        /// <summary>How long each write takes (a slow store).</summary>
        public TimeSpan PerBatch { get; init; }

        /// <summary>Ids of every event and dead letter stored, added before the write returns (commits).</summary>
        public System.Collections.Concurrent.ConcurrentDictionary<string, bool> Stored { get; } = new(StringComparer.Ordinal);

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

            if (PerBatch > TimeSpan.Zero)
            {
                await Task.Delay(PerBatch, cancellationToken);
            }

            foreach (var e in batch)
            {
                Stored[e.Id] = true;
            }

            Interlocked.Add(ref _events, batch.Count);
        }

        public ValueTask WriteDeadLettersAsync(IReadOnlyList<DeadLetter> batch, CancellationToken cancellationToken)
        {
            foreach (var d in batch)
            {
                Stored[d.Id] = true;
            }

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
