using System.Net.Sockets;
using System.Text;
using Conveyor.Cli.Tests.Service;

namespace Conveyor.Cli.Tests.Faults;

/// <summary>Findings 8 and 9: idle connections cannot lock clients out; a stop reads what senders already wrote.</summary>
public sealed class TcpFaultTests
{
    [Fact]
    public async Task Run_ElevenHundredIdleConnectionsHeld_NewClientsLineStoredWithinFiveSeconds()
    {
        var tcp = ConveyorProcess.FreePort();
        await using var service = await FaultService.StartAsync($$"""{ "type": "tcp", "port": {{tcp}} }""");
        var idle = new List<TcpClient>();
        try
        {
            for (var i = 0; i < 1_100; i++)
            {
                var c = new TcpClient();
                await c.ConnectAsync("127.0.0.1", tcp);
                idle.Add(c);
            }

            // The service has dealt with all 1,100 (closing the idlest for 100 of them, or refusing them): the limit is
            // full of idle connections. Waiting for either keeps this test failing on the client's line, not on a
            // counter, when the policy is not there.
            await TestWait.UntilAsync(
                async () => await service.MetricAsync("conveyor_source_connections_evicted_total") + await service.MetricAsync("conveyor_source_connections_refused_total") >= 100,
                TimeSpan.FromSeconds(60),
                "100 connections over the limit evicted or refused");
            var watch = System.Diagnostics.Stopwatch.StartNew();
            await Senders.SendTcpAsync(tcp, [Senders.AccessLine("real-client", 1)]);
            await TestWait.UntilAsync(async () => (await Senders.CountAsync(service.Db)).Events == 1, TimeSpan.FromSeconds(5), "the real client's line stored");
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"stored after {watch.Elapsed}");
            Assert.Equal(0, await service.MetricAsync("conveyor_source_connections_refused_total"));
            Assert.True(await service.MetricAsync("conveyor_source_connections_evicted_total") >= 100, "fewer than 100 idle connections evicted");
        }
        finally
        {
            idle.ForEach(static c => c.Dispose());
        }
    }

    [Fact]
    public async Task Run_SigtermWhileASenderHasLinesInFlight_StoresThemAndClosesWithoutReset()
    {
        var tcp = ConveyorProcess.FreePort();

        // A small main buffer: most of what the sender wrote still waits in the socket when SIGTERM arrives. Reading
        // on gets half the drain deadline; the default 30 s (15 s of reading on) was not enough for 20,000 lines into
        // SQLite when two test runs shared the two cores (19,675 read), so the deadline is not what this test is about.
        await using var service = await FaultService.StartAsync(
            $$"""{ "type": "tcp", "port": {{tcp}} }""", extra: """, "buffer": { "capacity": 100 }, "shutdown": { "drainTimeout": "00:02:00" }""");
        using var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", tcp);
        var stream = client.GetStream();
        const int Lines = 20_000;
        await stream.WriteAsync(Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(0, Lines).Select(i => Senders.AccessLine("inflight", i) + "\n"))));

        // The sender keeps its connection open, like rsyslog; the service is stopped under it.
        Assert.Equal(0, await service.Process.TerminateAsync(TimeSpan.FromSeconds(150)));
        var (events, dead) = await Senders.CountAsync(service.Db);
        Assert.Equal(Lines, events + dead + service.Process.Report("dropped at sources"));
        Assert.Equal(Lines, events);

        // Everything was read before the socket closed, so the sender reads an orderly end, not ECONNRESET.
        stream.ReadTimeout = 10_000;
        Assert.Equal(0, await stream.ReadAsync(new byte[1]));
    }
}
