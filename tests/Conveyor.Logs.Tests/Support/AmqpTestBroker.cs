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

    /// <summary>A queue name no other test uses.</summary>
    public static string NewQueue() => "t-" + Guid.NewGuid().ToString("N")[..12];

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
