using Conveyor.Logs.Tests.Support;

namespace Conveyor.Cli.Tests.Service;

/// <summary>
/// Issue 13 with real processes, as examples/distributed/ runs them: one edge (<c>conveyor run --from tcp://
/// --to amqp://…&amp;format=raw</c>) and workers (<c>conveyor run --from amqp:// --to postgres:</c>) over the RabbitMQ
/// node and PostgreSQL server test.sh starts. Whatever dies, every line sent is stored exactly once: a worker killed
/// with SIGKILL leaves its unacknowledged messages to the broker, which delivers them again, and PostgreSQL's insert
/// on the edge's record ids keeps one copy; a broker restarted mid-run keeps its durable quorum queue.
/// </summary>
public sealed class AmqpScaleOutProcessTests
{
    private static readonly TimeSpan Startup = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(300);

    [Fact]
    public async Task OneEdgeTwoWorkers_WorkerSigkilledAtAThirdAndRestarted_EveryLineStoredExactlyOnce()
    {
        var lines = AmqpTestBroker.ScaleLines;
        await using var queue = AmqpTestBroker.OwnQueue();
        var amqp = queue.Uri();
        var postgres = await PostgresTestServer.CreateSchemaAsync();
        var tcp = ConveyorProcess.FreePort();
        await using var edge = StartEdge(tcp, amqp);
        await using var steady = StartWorker(amqp, postgres);
        await using var victim = StartWorker(amqp, postgres);
        await Task.WhenAll(edge.WaitForLogAsync("Pipeline started", Startup), steady.WaitForLogAsync("consuming from", Startup), victim.WaitForLogAsync("consuming from", Startup));
        var sending = Senders.SendTcpAsync(tcp, Enumerable.Range(0, lines).Select(Line));

        await TestWait.UntilAsync(async () => await StoredAsync(postgres) >= lines / 3, Deadline, "a third of the lines stored");
        victim.Kill();
        Assert.Equal(137, await victim.WaitForExitAsync(Startup));
        var atKill = await StoredAsync(postgres);
        Assert.True(atKill < lines, $"the worker died mid-run ({atKill} of {lines} stored)");

        // The restart delay: the worker stays dead this long on purpose.
        await Task.Delay(TimeSpan.FromSeconds(2));
        await using var restarted = StartWorker(amqp, postgres);
        await restarted.WaitForLogAsync("consuming from", Startup);
        await sending;
        await TestWait.UntilAsync(async () => await StoredAsync(postgres) >= lines, Deadline, "every line stored");

        // Stop everything; then the store holds the final answer (a late redelivery would show as a duplicate).
        Assert.Equal(0, await edge.TerminateAsync(Startup));
        Assert.Equal(0, await steady.TerminateAsync(Startup));
        Assert.Equal(0, await restarted.TerminateAsync(Startup));
        await AssertStoredExactlyOnceAsync(edge, postgres, lines);
        Assert.True(steady.SinkReport("stored") > 0, "the steady worker took a share\n" + steady.Stderr);
    }

    [Fact]
    public async Task BrokerRestartedWhileLinesFlow_NoAcceptedLineLost()
    {
        const int lines = 40_000;
        using var hold = await AmqpTestBroker.HoldOutageAsync(Deadline);
        await using var queue = AmqpTestBroker.OwnQueue(AmqpTestBroker.Outage);
        var amqp = queue.Uri();
        var postgres = await PostgresTestServer.CreateSchemaAsync();
        var tcp = ConveyorProcess.FreePort();
        await using var edge = StartEdge(tcp, amqp);
        await using var worker = StartWorker(amqp, postgres);
        await Task.WhenAll(edge.WaitForLogAsync("Pipeline started", Startup), worker.WaitForLogAsync("consuming from", Startup));

        // 40,000 lines at 2,000/s: 20 s unhindered, so the restart (a graceful stop, then 6-8 s of boot) falls inside.
        var sending = Senders.SendTcpAsync(tcp, Enumerable.Range(0, lines).Select(Line), perSecond: 2_000);
        await TestWait.UntilAsync(async () => await StoredAsync(postgres) >= 2_000, Deadline, "the first lines stored");
        await AmqpTestBroker.StopOutageAsync();
        var stillSending = !sending.IsCompleted;
        var atStop = await StoredAsync(postgres);

        // Started again before any assertion, so a failure here never leaves the node down for the next test.
        await AmqpTestBroker.StartOutageAsync();
        Assert.True(stillSending, "the broker stopped while lines were still being sent");

        await sending;
        await TestWait.UntilAsync(async () => await StoredAsync(postgres) >= lines, Deadline, "every line stored");
        Assert.Equal(0, await edge.TerminateAsync(Startup));
        Assert.Equal(0, await worker.TerminateAsync(Startup));
        Assert.True(atStop < lines, "lines were still on their way when the broker stopped");
        await AssertStoredExactlyOnceAsync(edge, postgres, lines);

        // Both sides saw the broker go and come back: the edge's sink retried its batch, the worker reconnected.
        Assert.Contains("Sink amqp recovered", edge.Stderr, StringComparison.Ordinal);
        Assert.Contains("Reconnected to", worker.Stderr, StringComparison.Ordinal);
    }

    /// <summary>Line <paramref name="i"/>: an access-log line whose URL is its own, so every stored row names its line.</summary>
    private static string Line(int i) => Senders.AccessLine("scale", i);

    /// <summary>The edge: plain lines (no parsing) forwarded raw in batches of 500 with publisher confirms.</summary>
    private static ConveyorProcess StartEdge(int tcp, string amqp) =>
        ConveyorProcess.Start(ConveyorProcess.TempDirectory(), ["run", "--format", "plain", "--from", $"tcp://127.0.0.1:{tcp}", "--to", amqp + "&format=raw"]);

    /// <summary>A worker: consumes with manual acks, parses (auto) and stores; each has its own working directory.</summary>
    private static ConveyorProcess StartWorker(string amqp, string postgres) =>
        ConveyorProcess.Start(ConveyorProcess.TempDirectory(), ["run", "--from", amqp, "--to", "postgres:" + postgres]);

    private static Task<long> StoredAsync(string postgres) => PostgresTestServer.ScalarAsync(postgres, "SELECT count(*) FROM events");

    /// <summary>
    /// Every line sent is stored once: rows = distinct ids = distinct URLs = sent, and the accounting closes,
    /// sent = stored + dead-lettered + dropped (the edge's report gives what it received, published and dropped).
    /// </summary>
    private static async Task AssertStoredExactlyOnceAsync(ConveyorProcess edge, string postgres, int sent)
    {
        var rows = await StoredAsync(postgres);
        var ids = await PostgresTestServer.ScalarAsync(postgres, "SELECT count(DISTINCT id) FROM events");
        var urls = await PostgresTestServer.ScalarAsync(postgres, "SELECT count(DISTINCT url) FROM events WHERE url LIKE '/scale/%'");
        var dead = await PostgresTestServer.ScalarAsync(postgres, "SELECT count(*) FROM dead_letters");
        var dropped = edge.Report("dropped at sources") + edge.Report("evicted from main buffer") + edge.SinkReport("dropped at queue") + edge.SinkReport("failed");
        Assert.Equal(((long)sent, (long)sent, (long)sent), (rows, ids, urls));
        Assert.Equal((long)sent, edge.Report("received"));
        Assert.Equal((long)sent, edge.SinkReport("stored"));
        Assert.Equal((long)sent, rows + dead + dropped);
    }
}
