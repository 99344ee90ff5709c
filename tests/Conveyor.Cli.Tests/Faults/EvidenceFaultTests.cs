using System.Net.Sockets;
using System.Text;
using Conveyor.Cli.Tests.Service;
using Conveyor.Logs.Query;

namespace Conveyor.Cli.Tests.Faults;

/// <summary>Finding 11: a record refused as too long leaves its first 4 KiB as evidence, as its reason says.</summary>
public sealed class EvidenceFaultTests
{
    [Fact]
    public async Task Run_OversizedSyslogFrameAndOverLongTcpLine_DeadLettersKeepTheirFirst4KiB()
    {
        int syslog = ConveyorProcess.FreePort(), tcp = ConveyorProcess.FreePort();
        await using var service = await FaultService.StartAsync(
            $$"""{ "type": "syslogTcp", "port": {{syslog}} }, { "type": "tcp", "port": {{tcp}} }""");

        // logger --tcp sends octet-counted frames: a 70 KB message is one frame over the 64 KiB maximum.
        var message = "<13>1 2026-11-27T10:00:00Z host app - - - " + string.Concat(Enumerable.Range(0, 7_000).Select(i => $"{i:D9} "));
        var frame = Encoding.UTF8.GetBytes($"{Encoding.UTF8.GetByteCount(message)} {message}");
        await SendAsync(syslog, frame);
        var line = "10.0.0.1 " + string.Concat(Enumerable.Range(0, 8_000).Select(i => $"{i:D8} "));
        await SendAsync(tcp, Encoding.UTF8.GetBytes(line + "\n"));

        await TestWait.UntilAsync(async () => (await Senders.CountAsync(service.Db)).DeadLetters == 2, TimeSpan.FromSeconds(30), "two dead letters");
        await using var store = LogStore.Open("sqlite:" + service.Db);
        var dead = (await store.SearchAsync(new LogQuery("*", Limit: 10, DeadLetters: true))).DeadLetters;
        var fromSyslog = Assert.Single(dead, d => d.Source == "syslog-tcp-" + syslog);
        Assert.Equal(message[..4096], fromSyslog.RawLine);
        Assert.Contains("the first 4096 bytes are kept", fromSyslog.Reason, StringComparison.Ordinal);
        var fromTcp = Assert.Single(dead, d => d.Source == "tcp-" + tcp);
        Assert.Equal(line[..4096], fromTcp.RawLine);
        Assert.Contains("the first 4096 bytes are kept", fromTcp.Reason, StringComparison.Ordinal);
    }

    /// <summary>
    /// The rest of finding 11: a JSON line with a lone surrogate escape was dead-lettered as "internal error:
    /// InvalidOperationException". The one broken character becomes U+FFFD; the record is stored.
    /// </summary>
    [Fact]
    public async Task Run_JsonLineWithALoneSurrogateEscape_StoredWithAReplacementCharacter_NotDeadLettered()
    {
        var tcp = ConveyorProcess.FreePort();
        await using var service = await FaultService.StartAsync($$"""{ "type": "tcp", "port": {{tcp}}, "format": "json" }""");
        await SendAsync(tcp, Encoding.UTF8.GetBytes("""{"msg":"bad \ud800 here","k":"\udc00"}""" + "\n" + """{"msg":"fine"}""" + "\n"));

        await TestWait.UntilAsync(async () => await service.StageAsync("source:tcp-" + tcp, "received") == 2, TimeSpan.FromSeconds(30), "two lines received");
        Assert.Equal(0, await service.Process.TerminateAsync(TimeSpan.FromSeconds(60)));
        await using var store = LogStore.Open("sqlite:" + service.Db);
        var result = await store.SearchAsync(new LogQuery("*", Limit: 10, DeadLetters: true));
        Assert.True(result.DeadLetters.Count == 0, "dead-lettered: " + string.Join("; ", result.DeadLetters.Select(static d => d.Reason)));
        var events = (await store.SearchAsync(new LogQuery("*", Limit: 10))).Events;
        Assert.Equal(2, events.Count);
        Assert.Contains(events, static e => e.Body == "bad \uFFFD here");
    }

    private static async Task SendAsync(int port, byte[] bytes)
    {
        using var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", port);
        var stream = client.GetStream();
        await stream.WriteAsync(bytes);
        client.Client.Shutdown(SocketShutdown.Send);
        var buffer = new byte[16];
        while (await stream.ReadAsync(buffer) > 0)
        {
        }
    }
}
