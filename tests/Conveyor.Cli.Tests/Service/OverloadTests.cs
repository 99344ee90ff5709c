using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Conveyor.Cli.Tests.Service;

/// <summary>
/// A deliberately slow sink (<c>slow:</c>, like the seed's 5 ms consumer) behind small buffers: back-pressure must
/// reach HTTP senders as 429 + Retry-After and TCP senders as a blocked send, memory must stay bounded, and SIGTERM
/// under load must store everything that was accepted.
/// </summary>
public sealed class OverloadTests
{
    [Fact]
    public async Task Overload_SlowSink_HttpGets429AndTcpSenderIsHeldBack()
    {
        var dir = ConveyorProcess.TempDirectory();
        int http = ConveyorProcess.FreePort(), tcp = ConveyorProcess.FreePort();
        var config = Path.Combine(dir, "c.json");
        await File.WriteAllTextAsync(config, $$"""
            {
              "sources": [ { "type": "http", "port": {{http}}, "blockTimeout": "00:00:00.100" }, { "type": "tcp", "port": {{tcp}} } ],
              "buffer": { "capacity": 2000, "maxBytes": 1048576 },
              "sinks": [ { "uri": "slow:100ms+null:", "batchMaxItems": 50, "batchLinger": "00:00:00", "queue": { "capacity": 500, "maxBytes": 1048576 } } ],
              "shutdown": { "drainTimeout": "00:00:02" }
            }
            """);
        await using var p = ConveyorProcess.Start(dir, ["run", "--config", config]);
        await p.WaitForLogAsync("Pipeline started", TimeSpan.FromSeconds(60));
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{http}") };
        await TestWait.UntilAsync(async () => await RunEndToEndTests.TryGet(client, "/health") == HttpStatusCode.OK, TimeSpan.FromSeconds(30), "/health");

        // TCP: a sender with 20 MB to send, against a sink that takes 500 lines/s.
        var line = Encoding.UTF8.GetBytes(Senders.AccessLine(new string('p', 300), 1) + "\n");
        long tcpBytes = 0;
        using var tcpClient = new TcpClient { SendBufferSize = 64 * 1024 };
        await tcpClient.ConnectAsync("127.0.0.1", tcp);
        using var stopTcp = new CancellationTokenSource();
        var sender = Task.Run(async () =>
        {
            var stream = tcpClient.GetStream();
            var chunk = Enumerable.Repeat(line, 100).SelectMany(static b => b).ToArray();
            try
            {
                while (tcpBytes < 20_000_000)
                {
                    await stream.WriteAsync(chunk, stopTcp.Token);
                    Interlocked.Add(ref tcpBytes, chunk.Length);
                }
            }
            catch (OperationCanceledException)
            {
            }
        });

        // HTTP: keep posting until the full buffer refuses.
        HttpResponseMessage? refused = null;
        var watch = Stopwatch.StartNew();
        while (refused is null && watch.Elapsed < TimeSpan.FromSeconds(30))
        {
            var response = await client.PostAsync("/ingest", Senders.Body(Enumerable.Range(0, 200).Select(i => Senders.AccessLine("h", i))));
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                refused = response;
            }
            else
            {
                Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
                response.Dispose();
            }
        }

        Assert.NotNull(refused);
        Assert.True(refused.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1), $"Retry-After: {refused.Headers.RetryAfter}");
        Assert.Contains("buffer is full", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        refused.Dispose();
        // The slow sink keeps draining, so the fill can dip under the readiness threshold between two requests;
        // with the senders still pushing, /ready must report saturation within the deadline.
        await TestWait.UntilAsync(async () => await RunEndToEndTests.TryGet(client, "/ready") == HttpStatusCode.ServiceUnavailable, TimeSpan.FromSeconds(30), "/ready reports the saturated buffer");

        // The TCP sender is held back: after seconds of trying it has sent a small part of its 20 MB, because the
        // service stopped reading (what it wrote sits in the buffers and the kernel's socket buffers).
        Assert.False(sender.IsCompleted, "the TCP sender finished 20 MB against a 500 lines/s sink");
        var sentMb = Interlocked.Read(ref tcpBytes) / 1e6;
        Assert.True(sentMb < 15, $"TCP sender wrote {sentMb:0.0} MB");

        // Memory: the bounds hold. 2 MiB of queues plus the runtime; 400 MB would mean something buffered without bound.
        var peakMb = PeakRssMb(p.Id);
        Assert.True(peakMb < 400, $"peak RSS {peakMb} MB");
        using (var pipeline = await client.GetAsync("/api/pipeline"))
        {
            var json = await pipeline.Content.ReadAsStringAsync();
            Assert.Contains("\"name\":\"main\"", json, StringComparison.Ordinal);
        }

        await stopTcp.CancelAsync();
        Assert.Equal(0, await p.TerminateAsync(TimeSpan.FromSeconds(60)));
        await sender;

        // A 2 s drain against a 500 lines/s sink cannot finish: what is left is reported, not forgotten.
        Assert.True(p.Report("left at deadline") > 0, p.Stderr);
    }

    /// <summary>
    /// SIGTERM while HTTP senders post and TCP senders keep writing through the stop, as a forwarder holding its
    /// connection does: reading on must end in time for the drain to store everything admitted. Before the read-on
    /// deadline, the stop read such connections until the drain deadline, and the full main buffer was left unstored.
    /// </summary>
    [Fact]
    public async Task Sigterm_UnderLoad_WithSendersThatKeepWriting_StoresEverythingAdmittedBeforeTheDeadline()
    {
        var dir = ConveyorProcess.TempDirectory();
        int http = ConveyorProcess.FreePort(), tcp = ConveyorProcess.FreePort();
        var db = Path.Combine(dir, "x.db");
        var config = Path.Combine(dir, "c.json");
        await File.WriteAllTextAsync(config, $$"""
            {
              "sources": [ { "type": "http", "port": {{http}}, "blockTimeout": "00:00:00.050" }, { "type": "tcp", "port": {{tcp}} } ],
              "buffer": { "capacity": 20000, "maxBytes": 8388608 },
              "sinks": [ { "uri": "slow:2ms+sqlite:{{db}}", "batchMaxItems": 500 } ],
              "shutdown": { "drainTimeout": "00:00:40" }
            }
            """);
        await using var p = ConveyorProcess.Start(dir, ["run", "--config", config]);
        await p.WaitForLogAsync("Pipeline started", TimeSpan.FromSeconds(60));
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{http}") };
        await TestWait.UntilAsync(async () => await RunEndToEndTests.TryGet(client, "/health") == HttpStatusCode.OK, TimeSpan.FromSeconds(30), "/health");

        long accepted = 0;
        long tcpLines = 0;
        using var stop = new CancellationTokenSource();
        var httpSenders = Enumerable.Range(0, 2).Select(s => Task.Run(async () =>
        {
            var batch = 0;
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    var b = batch++;
                    using var r = await client.PostAsync("/ingest", Senders.Body(Enumerable.Range(0, 200).Select(i => Senders.AccessLine($"h{s}-{b}", i))));
                    if (r.StatusCode == HttpStatusCode.Accepted)
                    {
                        Interlocked.Add(ref accepted, 200);
                    }
                    else if (r.StatusCode == HttpStatusCode.ServiceUnavailable)
                    {
                        return;
                    }
                }
                catch (HttpRequestException)
                {
                    return;
                }
            }
        })).ToList();

        // The TCP senders never stop by themselves: they write until the service closes their connection.
        var tcpSenders = Enumerable.Range(0, 2).Select(s => Task.Run(async () =>
        {
            using var c = new TcpClient();
            await c.ConnectAsync("127.0.0.1", tcp);
            var stream = c.GetStream();
            var n = 0;
            try
            {
                while (true)
                {
                    var lines = string.Join('\n', Enumerable.Range(n, 100).Select(i => Senders.AccessLine($"t{s}", i))) + "\n";
                    // Counted before the write: a write cut by the close may still have delivered some of its lines.
                    Interlocked.Add(ref tcpLines, 100);
                    await stream.WriteAsync(Encoding.UTF8.GetBytes(lines));
                    n += 100;
                }
            }
            catch (Exception ex) when (ex is IOException or SocketException)
            {
            }
        })).ToList();

        await TestWait.UntilAsync(() => Interlocked.Read(ref accepted) > 5000 && Interlocked.Read(ref tcpLines) > 5000, TimeSpan.FromSeconds(30), "load on both sources");
        var exit = p.TerminateAsync(TimeSpan.FromSeconds(90));
        await p.WaitForLogAsync("Stopping", TimeSpan.FromSeconds(10));
        await stop.CancelAsync();
        Assert.Equal(0, await exit);
        await Task.WhenAll(httpSenders.Concat(tcpSenders));

        var (events, dead) = await Senders.CountAsync(db);

        // Reading on ended at its deadline with the senders still writing, and the rest of the deadline drained it all.
        Assert.True(p.Report("left at deadline") == 0, p.Stderr);
        Assert.Equal(p.Report("admitted"), events + dead);
        Assert.Equal(p.Report("received"), p.Report("admitted") + p.Report("refused to senders") + p.Report("dropped at sources"));

        // A connection closed by the stop ends inside a line the service never finished reading; that part stays the
        // sender's (it is not counted as received), so no cut line becomes a dead letter.
        Assert.Equal(0, dead);

        // Every 202 is stored; TCP lines the service read are stored too (a sender's last lines are never read).
        Assert.True(events >= Interlocked.Read(ref accepted), $"stored {events}, 202-accepted {accepted}");
        Assert.True(events <= Interlocked.Read(ref accepted) + Interlocked.Read(ref tcpLines), $"stored {events}, sent {accepted} + {tcpLines}");
    }

    private static long PeakRssMb(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
            {
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) / 1024;
            }
        }

        return -1;
    }
}
