using System.Collections.Concurrent;
using Conveyor.Logs.Amqp;
using Conveyor.Logs.Model;
using Conveyor.Logs.Parsing;
using Conveyor.Logs.Sinks;
using Conveyor.Logs.Sinks.Amqp;
using Conveyor.Logs.Sources.Amqp;
using Conveyor.Logs.Tests.Support;
using Conveyor.Logs.Configuration;
using Microsoft.Extensions.Logging.Abstractions;

namespace Conveyor.Logs.Tests.Amqp;

/// <summary>The amqp:// sink and source against the real broker test.sh starts; each test has queues of its own.</summary>
public sealed class AmqpBrokerTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task SinkToSource_EveryRecordArrivesWithTheEdgesIdAndContent()
    {
        var queue = AmqpTestBroker.NewQueue();
        try
        {
            var events = TestEvents.Batch("e2e", 1_000);
            var dead = new DeadLetter("e2e-dead", "tcp-5170", "source:tcp", "line longer than 65536 bytes", "xxxx", TestEvents.Base);
            await using (var sink = await AmqpSink.OpenAsync(AmqpSettings.Parse(AmqpTestBroker.Uri(queue, "batch=100&window=4"))))
            {
                await sink.WriteBatchAsync(events, default);
                await sink.WriteDeadLettersAsync([dead], default);
                Assert.Equal(11, sink.Published);
                Assert.Equal(0, sink.GetLinkStatus().Unconfirmed);
            }

            Assert.Equal(11u, await AmqpTestBroker.ReadyAsync(queue));
            await using var worker = await Worker.StartAsync(AmqpTestBroker.Uri(queue));
            var lines = await worker.ReadAsync(1_001);
            foreach (var ack in worker.Acks)
            {
                ack.Complete(DeliveryOutcome.Delivered, ack.Pending);
            }

            var outcomes = lines.Select(l => l.Source.Parser.Parse(l.Data, new LineContext(l.Source.Name, l.Id, l.ReceivedAt))).ToList();
            Assert.Equal(events.Select(e => e.Id).Append(dead.Id).Order(), lines.Select(l => l.Id).Order());
            Assert.Equal(events.Select(e => (e.Id, e.Body, e.Timestamp, e.Attributes.Count)), outcomes.Where(o => o.Succeeded).Select(o => (o.Event!.Id, o.Event.Body, o.Event.Timestamp, o.Event.Attributes.Count)));
            Assert.Equal(dead, outcomes.Single(o => !o.Succeeded).DeadLetter);
            await TestWait(() => worker.Source.Acknowledged == 11, "every message acknowledged");
            await worker.DisposeAsync();
            Assert.Equal(0u, await AmqpTestBroker.ReadyAsync(queue));
        }
        finally
        {
            await AmqpTestBroker.DeleteAsync(queue);
        }
    }

    [Fact]
    public async Task Source_MessageStaysUnacknowledgedUntilItsRecordsComplete_ThenEachOutcomeSettlesIt()
    {
        var queue = AmqpTestBroker.NewQueue();
        try
        {
            await using (var sink = await AmqpSink.OpenAsync(AmqpSettings.Parse(AmqpTestBroker.Uri(queue, "batch=10"))))
            {
                await sink.WriteBatchAsync(TestEvents.Batch("ack", 30), default);
            }

            // A worker that takes the messages and dies before its sinks commit: nothing was acknowledged, so the
            // broker has all three again.
            await using (var dying = await Worker.StartAsync(AmqpTestBroker.Uri(queue)))
            {
                await dying.ReadAsync(30);
                Assert.Equal(0u, await AmqpTestBroker.ReadyAsync(queue));
                Assert.All(dying.Acks, a => Assert.False(a.IsCompleted));
            }

            // The broker requeues a closed channel's unacknowledged messages on its own time: read 0 once, just after the
            // close (a fresh-clone CI run), so wait for it.
            await TestWait(async () => await AmqpTestBroker.ReadyAsync(queue) == 3u, "the dead worker's three messages requeued");

            await using var worker = await Worker.StartAsync(AmqpTestBroker.Uri(queue));
            await worker.ReadAsync(30);
            var acks = worker.Acks.ToArray();
            acks[0].Complete(DeliveryOutcome.Delivered, 9);
            acks[1].Complete(DeliveryOutcome.Dropped, 10);      // requeued: delivered again

            // Outcomes are settled in order, so once the requeue is done an early ack of the first would be too.
            await TestWait(() => worker.Source.Requeued == 1, "the dropped message requeued");
            Assert.Equal(0, worker.Source.Acknowledged);        // one record of the first message is still in the pipeline
            acks[0].Complete(DeliveryOutcome.Delivered);
            acks[2].Complete(DeliveryOutcome.Failed, 10);       // a sink failed for good: to the dead-letter queue
            await TestWait(() => worker.Acks.Count == 4, "the dropped message redelivered");
            worker.Acks.Last().Complete(DeliveryOutcome.DeadLettered, 10);
            await TestWait(() => worker.Source.Acknowledged == 2, "two messages acknowledged");
            Assert.Equal((1L, 1L), (worker.Source.Requeued, worker.Source.Rejected));
            await worker.DisposeAsync();
            Assert.Equal(0u, await AmqpTestBroker.ReadyAsync(queue));
            await TestWait(async () => await AmqpTestBroker.ReadyAsync(queue + ".dead") == 1u, "the failed message in the dead-letter queue");
        }
        finally
        {
            await AmqpTestBroker.DeleteAsync(queue);
        }
    }

    [Fact]
    public async Task Source_PoisonMessage_GoesToTheDeadLetterExchangeCounted_OthersFlowOn()
    {
        var queue = AmqpTestBroker.NewQueue();
        try
        {
            await using var worker = await Worker.StartAsync(AmqpTestBroker.Uri(queue));
            await AmqpTestBroker.PublishAsync(queue, "garbage that is no batch"u8.ToArray(), new Dictionary<string, object?> { [AmqpHeaders.Encoding] = 1, [AmqpHeaders.Count] = 5 });
            await AmqpTestBroker.PublishAsync(queue, [1, 2, 3], null);
            await using (var sink = await AmqpSink.OpenAsync(AmqpSettings.Parse(AmqpTestBroker.Uri(queue))))
            {
                await sink.WriteBatchAsync(TestEvents.Batch("good", 50), default);
            }

            var lines = await worker.ReadAsync(50);
            Assert.Equal(50, lines.Select(l => l.Id).Distinct().Count());
            await TestWait(() => worker.Source.Poison == 2, "both poison messages counted");
            await TestWait(async () => await AmqpTestBroker.ReadyAsync(queue + ".dead") == 2, "both in the dead-letter queue");
            Assert.Equal(3, worker.Source.Messages);
        }
        finally
        {
            await AmqpTestBroker.DeleteAsync(queue);
        }
    }

    [Fact]
    public async Task Sink_BrokerUnreachable_FailsTheStartNamingTheBroker()
    {
        var port = FreePort();
        var ex = await Assert.ThrowsAsync<SinkException>(() => AmqpSink.OpenAsync(AmqpSettings.Parse($"amqp://guest:secret@127.0.0.1:{port}/?queue=x")));
        Assert.Contains($"127.0.0.1:{port}", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", ex.Message, StringComparison.Ordinal);
        Assert.False(ex.IsTransient);
    }

    [Fact]
    public async Task Declare_QueueExistsWithOtherArguments_FailsTheStartSayingSo()
    {
        var queue = AmqpTestBroker.NewQueue();
        try
        {
            await (await AmqpSink.OpenAsync(AmqpSettings.Parse(AmqpTestBroker.Uri(queue)))).DisposeAsync();
            var ex = await Assert.ThrowsAsync<SinkException>(() => AmqpSink.OpenAsync(AmqpSettings.Parse(AmqpTestBroker.Uri(queue, "type=stream"))));
            Assert.Contains($"cannot declare queue '{queue}'", ex.Message, StringComparison.Ordinal);
        }
        finally
        {
            await AmqpTestBroker.DeleteAsync(queue);
        }
    }

    internal static int FreePort()
    {
        using var l = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        l.Start();
        return ((System.Net.IPEndPoint)l.LocalEndpoint).Port;
    }

    private static Task TestWait(Func<bool> condition, string what) => TestWait(() => Task.FromResult(condition()), what);

    private static Task TestWait(Func<Task<bool>> condition, string what) => TestEvents.WaitUntilAsync(condition, Deadline, what);

    /// <summary>An amqp source writing into a buffer of its own; the test plays the sinks by completing the acknowledgements.</summary>
    private sealed class Worker : IAsyncDisposable
    {
        private int _disposed;

        private Worker(AmqpSource source, BoundedBuffer<RawLine> buffer)
        {
            Source = source;
            Buffer = buffer;
        }

        public AmqpSource Source { get; }

        public BoundedBuffer<RawLine> Buffer { get; }

        public ConcurrentQueue<Acknowledgement> Acks { get; } = new();

        public static async Task<Worker> StartAsync(string uri)
        {
            var buffer = new BoundedBuffer<RawLine>(new BufferOptions<RawLine> { Capacity = 100_000 });
            var options = new SourceOptions { Type = SourceType.Amqp, Uri = uri, Format = "auto" };
            var info = new SourceInfo("amqp", "amqp", new AmqpRecordParser(LogParsers.Create("auto")));
            var source = new AmqpSource(options, info, buffer.Writer, NullLogger.Instance, TimeProvider.System);
            var worker = new Worker(source, buffer);
            source.AcknowledgementCreated = worker.Acks.Enqueue;
            await source.StartAsync(default);
            return worker;
        }

        public async Task<List<RawLine>> ReadAsync(int count)
        {
            var lines = new List<RawLine>(count);
            using var cts = new CancellationTokenSource(Deadline);
            while (lines.Count < count)
            {
                lines.Add(await Buffer.Reader.ReadAsync(cts.Token));
            }

            return lines;
        }

        public async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                await Source.StopAsync(default);
                await Source.DisposeAsync();
            }
        }
    }
}
