using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace Conveyor.Logs.Tests.Support;

/// <summary>
/// The throwaway RabbitMQ nodes test.sh starts (CONVEYOR_TEST_AMQP, CONVEYOR_TEST_OUTAGE_AMQP). Tests needing one fail,
/// never skip, when it is not configured; each test uses queues of its own and deletes them.
/// </summary>
internal static class AmqpTestBroker
{
    public static string Shared => Env("CONVEYOR_TEST_AMQP");

    public static string Outage => Env("CONVEYOR_TEST_OUTAGE_AMQP");

    /// <summary>
    /// Lines of the scale-out runs (in-process and with real processes): the 300,000 on a quiet machine;
    /// 100,000 by default because on the shared 2-core machine (load average 14-30) 300,000 took more than a minute.
    /// Set CONVEYOR_TEST_AMQP_LINES to change it.
    /// </summary>
    public static int ScaleLines => int.TryParse(Environment.GetEnvironmentVariable("CONVEYOR_TEST_AMQP_LINES"), out var n) && n > 0 ? n : 100_000;

    /// <summary>A queue name no other test uses.</summary>
    public static string NewQueue() => "t-" + Guid.NewGuid().ToString("N")[..12];

    /// <summary>A queue of the test's own on <paramref name="broker"/> (default the shared node), deleted on dispose.</summary>
    public static TestQueue OwnQueue(string? broker = null) => new(NewQueue(), broker);

    public static string Uri(string queue, string? query = null, string? broker = null) =>
        (broker ?? Shared) + "?queue=" + queue + (query is null ? string.Empty : "&" + query);

    public static async Task<IConnection> ConnectAsync(string? broker = null) =>
        await new ConnectionFactory { Uri = new Uri(broker ?? Shared) }.CreateConnectionAsync();

    /// <summary>Messages ready in <paramref name="queue"/> (not counting those delivered and unacknowledged).</summary>
    public static async Task<uint> ReadyAsync(string queue, string? broker = null)
    {
        await using var c = await ConnectAsync(broker);
        await using var ch = await c.CreateChannelAsync();
        return (await ch.QueueDeclarePassiveAsync(queue)).MessageCount;
    }

    public static async Task PublishAsync(string queue, byte[] body, IDictionary<string, object?>? headers, string? broker = null)
    {
        await using var c = await ConnectAsync(broker);
        await using var ch = await c.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true));
        await ch.BasicPublishAsync(string.Empty, queue, mandatory: true, new BasicProperties { Headers = headers, MessageId = "poison" }, body);
    }

    public static async Task DeleteAsync(string queue, string? broker = null)
    {
        try
        {
            await using var c = await ConnectAsync(broker);
            await using var ch = await c.CreateChannelAsync();
            await ch.QueueDeleteAsync(queue, ifUnused: false, ifEmpty: false);
            await ch.QueueDeleteAsync(queue + ".dead", ifUnused: false, ifEmpty: false);
            await ch.ExchangeDeleteAsync(queue + ".dead", ifUnused: false);
        }
        catch (Exception e) when (e is OperationInterruptedException or BrokerUnreachableException or AlreadyClosedException)
        {
            // Best effort: a broker that is down now takes its throwaway queues with it when test.sh ends.
        }
    }

    /// <summary>
    /// Holds the outage node for one test until disposed. Test assemblies run in parallel and more than one stops and
    /// starts this node: without the hold, one test would start a node another just stopped (or start it twice). A
    /// file lock next to the node's folder, so it holds across processes.
    /// </summary>
    public static async Task<IDisposable> HoldOutageAsync(TimeSpan timeout)
    {
        var path = Env("CONVEYOR_TEST_OUTAGE_AMQP_DIR").TrimEnd('/') + ".lock";
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (waited.Elapsed < timeout)
            {
                // Another test holds the node: poll until it lets go.
                await Task.Delay(200);
            }
        }
    }

    /// <summary>Stops the outage node gracefully (its queues and messages stay on disk), as test.sh documents.</summary>
    public static Task StopOutageAsync() => RabbitMqShAsync("stop");

    /// <summary>Starts the outage node again on the same port; returns once it accepts connections.</summary>
    public static Task StartOutageAsync() => RabbitMqShAsync("start");

    private static async Task RabbitMqShAsync(string command)
    {
        var psi = new System.Diagnostics.ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { Env("CONVEYOR_TEST_RABBITMQ_SH"), command, Env("CONVEYOR_TEST_OUTAGE_AMQP_DIR") })
        {
            psi.ArgumentList.Add(a);
        }

        using var p = System.Diagnostics.Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        Assert.True(p.ExitCode == 0, $"rabbitmq.sh {command} failed: {await stderr}");
    }

    private static string Env(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } v
        ? v
        : throw new InvalidOperationException($"{name} is not set: run the tests through ./test.sh, which starts a throwaway RabbitMQ.");
}

/// <summary>A throwaway queue; disposing it deletes it with its dead-letter queue and exchange.</summary>
internal sealed record TestQueue(string Name, string? Broker) : IAsyncDisposable
{
    /// <summary>The broker URI naming this queue, with more of the query when given.</summary>
    public string Uri(string? query = null) => AmqpTestBroker.Uri(Name, query, Broker);

    public ValueTask DisposeAsync() => new(AmqpTestBroker.DeleteAsync(Name, Broker));
}
