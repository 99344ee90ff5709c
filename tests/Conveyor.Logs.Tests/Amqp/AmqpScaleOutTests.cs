using Conveyor.Logs.Tests.Support;

namespace Conveyor.Logs.Tests.Amqp;

/// <summary>
/// Edges and workers over the real broker (issue 13's tests): whatever fails, every line sent is stored exactly
/// once. Workers here run the amqp source and a store writer that completes each message's acknowledgement after the
/// commit, as the pipeline's sinks will once acknowledgements travel through it.
/// </summary>
public sealed class AmqpScaleOutTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(240);

    [Fact]
    public async Task OneEdgeThreeWorkers_300kLines_StoredEqualsSentNoDuplicates()
    {
        var lines = AmqpTestBroker.ScaleLines;
        var queue = AmqpTestBroker.NewQueue();
        var uri = AmqpTestBroker.Uri(queue);
        try
        {
            await using var store = await SharedStore.OpenAsync();
            await using var edge = await TestEdge.StartAsync(uri);
            var workers = new List<TestWorker>();
            for (var i = 0; i < 3; i++)
            {
                workers.Add(await TestWorker.StartAsync(uri, store));
            }

            var link = edge.Topology.GetSnapshot().Stages.Single(s => s.Name == "write:amqp").Link;
            Assert.Equal(("connected", 64L, 0L), (link!.State, link.Window, link.Reconnects));
            var sent = await edge.SendAsync(lines);
            await TestEvents.WaitUntilAsync(async () => (await store.CountAsync()).Rows >= lines, Deadline, "every line stored", async () => $"sent in {sent}, published {edge.Published}, stored {await store.CountAsync()}, workers " + string.Join("; ", workers.Select(w => w.Describe())));
            Assert.Equal(lines, edge.Published);
            Assert.Equal(((long)lines, (long)lines), await store.CountAsync());
            Assert.All(workers, w => Assert.True(w.Stored > 0, "every worker took a share"));
            await TestEvents.WaitUntilAsync(async () => await AmqpTestBroker.ReadyAsync(queue) == 0 && workers.Sum(w => w.Source.Acknowledged) == workers.Sum(w => w.Source.Messages), Deadline, "every message acknowledged");
            foreach (var w in workers)
            {
                await w.DisposeAsync();
            }

            Assert.Equal(0u, await AmqpTestBroker.ReadyAsync(queue));
        }
        finally
        {
            await AmqpTestBroker.DeleteAsync(queue);
        }
    }

    [Fact]
    public async Task WorkerKilledMidRunAndRestarted_StoredEqualsSentNoDuplicates()
    {
        const int lines = 100_000;
        var queue = AmqpTestBroker.NewQueue();
        var uri = AmqpTestBroker.Uri(queue);
        try
        {
            await using var store = await SharedStore.OpenAsync();
            await using var edge = await TestEdge.StartAsync(uri);
            await using var steady = await TestWorker.StartAsync(uri, store);
            var victim = await TestWorker.StartAsync(uri, store);
            var sending = edge.SendAsync(lines, perSecond: 20_000);
            // Killed at a moment it holds messages it has not acknowledged: a worker that keeps up acknowledges each within
            // milliseconds, so a single read a third of the way through found none held once (a fresh-clone test run).
            long heldWhenKilled = 0;
            await TestEvents.WaitUntilAsync(
                () =>
                {
                    heldWhenKilled = victim.Source.Messages - victim.Source.Acknowledged;
                    return Task.FromResult(victim.Stored >= lines / 6 && heldWhenKilled > 0);
                },
                Deadline,
                "the victim is a third of the way through its share and holds unacknowledged messages");
            await victim.CrashAsync();
            await victim.DisposeAsync();
            Assert.True(heldWhenKilled > 0, "the victim held unacknowledged messages when it died");
            await using var restarted = await TestWorker.StartAsync(uri, store);
            await sending;
            await TestEvents.WaitUntilAsync(async () => (await store.CountAsync()).Rows >= lines, Deadline, "every line stored", async () => $"published {edge.Published}, stored {await store.CountAsync()}, workers {steady.Describe()}; {restarted.Describe()}");
            Assert.Equal(((long)lines, (long)lines), await store.CountAsync());
            Assert.Equal(lines, edge.Published);
            await TestEvents.WaitUntilAsync(async () => await AmqpTestBroker.ReadyAsync(queue) == 0, Deadline, "the queue drained");
            Assert.True(steady.Source.Messages + restarted.Source.Messages + victim.Source.Messages > lines / 500, "the victim's messages were delivered again");
        }
        finally
        {
            await AmqpTestBroker.DeleteAsync(queue);
        }
    }

    [Fact]
    public async Task BrokerStopped20sMidRun_SendersSlowed_StoredEqualsSentNoDuplicates()
    {
        const int lines = 40_000;
        using var hold = await AmqpTestBroker.HoldOutageAsync(Deadline);
        var broker = AmqpTestBroker.Outage;
        var queue = AmqpTestBroker.NewQueue();
        var uri = AmqpTestBroker.Uri(queue, broker: broker);
        try
        {
            await using var store = await SharedStore.OpenAsync();

            // Small edge buffers, so the outage reaches the sender within it instead of being absorbed.
            await using var edge = await TestEdge.StartAsync(uri, mainCapacity: 2_000, queueCapacity: 2_000);
            await using var w1 = await TestWorker.StartAsync(uri, store);
            await using var w2 = await TestWorker.StartAsync(uri, store);
            // 40 MB at 2 MB/s: 20 s unhindered, far more than the socket and edge buffers hold through a 20 s outage.
            var sending = edge.SendAsync(lines, perSecond: 2_000, padding: 900);
            await TestEvents.WaitUntilAsync(() => Task.FromResult(w1.Stored + w2.Stored >= 2_000), Deadline, "the first lines stored");
            await AmqpTestBroker.StopOutageAsync();
            await TestEvents.WaitUntilAsync(() => Task.FromResult(edge.Topology.Links().All(l => !l.Link.IsUp)), Deadline, "the edge sees the link down");

            // The outage itself: the broker stays down this long on purpose.
            await Task.Delay(TimeSpan.FromSeconds(20));
            var storedDuringOutage = w1.Stored + w2.Stored;
            Assert.True(storedDuringOutage < lines, "the outage began before the end of the run");
            await AmqpTestBroker.StartOutageAsync();
            var took = await sending;
            await TestEvents.WaitUntilAsync(async () => (await store.CountAsync()).Rows >= lines, Deadline, "every line stored", async () => $"published {edge.Published}, stored {await store.CountAsync()}, workers {w1.Describe()}; {w2.Describe()}");
            Assert.Equal(((long)lines, (long)lines), await store.CountAsync());
            Assert.True(took > TimeSpan.FromSeconds(30), $"the sender was slowed by the outage (took {took}; 20 s unhindered)");
            Assert.True(edge.Topology.Main.GetStatistics().BlockedTime > TimeSpan.FromSeconds(5), "the edge's source waited for room (back-pressure)");
            Assert.True(edge.Topology.Links().Single().Link.Reconnects >= 1, "the edge reconnected");
        }
        finally
        {
            await AmqpTestBroker.DeleteAsync(queue, broker);
        }
    }
}
