using System.Net.Sockets;
using System.Text;
using Conveyor.Logs.Parsing;
using Conveyor.Logs.Configuration;
using Conveyor.Logs.Model;
using Conveyor.Logs.Sources.Tcp;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Conveyor.Logs.Tests.Sources.Tcp;

/// <summary>TCP at its connection limit and through a stop: idle connections never lock clients out, written lines are read.</summary>
public sealed class TcpSourceTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);
    private readonly FakeLogger _log = new();

    [Fact]
    public async Task Accept_AtTheLimitWithIdleConnections_ClosesTheLongestIdleForTheNewClient()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var buffer = new BoundedBuffer<RawLine>(new BufferOptions<RawLine> { Capacity = 1000 });
        var (source, info) = await StartAsync(buffer, time, maxConnections: 20);
        var idle = new List<TcpClient>();
        try
        {
            for (var i = 0; i < 20; i++)
            {
                var c = new TcpClient();
                await c.ConnectAsync(source.LocalEndpoint!);
                idle.Add(c);
                await WaitAsync(() => source.OpenConnections == i + 1, "connection " + (i + 1));
                time.Advance(TimeSpan.FromMilliseconds(100));
            }

            time.Advance(TimeSpan.FromSeconds(1));
            using var client = new TcpClient();
            await client.ConnectAsync(source.LocalEndpoint!);
            await client.GetStream().WriteAsync(Encoding.UTF8.GetBytes("hello from a real client\n"));
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            var line = await buffer.Reader.ReadAsync(wait.Token);
            Assert.Equal("hello from a real client", Encoding.UTF8.GetString(line.Data));
            Assert.Equal(1, info.ConnectionsEvicted);
            Assert.Equal(20, source.OpenConnections);

            // The first connection was idle longest: it is the one closed.
            var first = idle[0].GetStream();
            first.ReadTimeout = 5000;
            Assert.Equal(0, await first.ReadAsync(new byte[1]));
        }
        finally
        {
            idle.ForEach(static c => c.Dispose());
            await source.DisposeAsync();
        }
    }

    [Fact]
    public async Task Accept_AtTheLimitWithEveryConnectionWaitingForRoom_RefusesTheNewOneAndCountsIt()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var buffer = new BoundedBuffer<RawLine>(new BufferOptions<RawLine> { Capacity = 10 });
        var (source, info) = await StartAsync(buffer, time, maxConnections: 2);
        using var a = new TcpClient();
        using var b = new TcpClient();
        await a.ConnectAsync(source.LocalEndpoint!);
        await b.ConnectAsync(source.LocalEndpoint!);
        var lines = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(0, 100).Select(i => $"line {i}\n")));
        await a.GetStream().WriteAsync(lines);
        await b.GetStream().WriteAsync(lines);

        // Both connections have read their lines and wait for room in the full buffer: busy, not idle.
        await WaitAsync(() => info.Received == 200, "both connections to wait for room");
        time.Advance(TimeSpan.FromMinutes(1));
        using var refused = new TcpClient();
        await refused.ConnectAsync(source.LocalEndpoint!);
        await WaitAsync(() => info.ConnectionsRefused == 1, "the refusal");
        Assert.Equal(0, info.ConnectionsEvicted);
        Assert.Contains(_log.Collector.GetSnapshot(), r => r.Message.Contains("maxConnections", StringComparison.Ordinal));

        // Draining the buffer lets both finish: nothing they sent is lost.
        var read = 0;
        while (read < 200)
        {
            using var wait = new CancellationTokenSource(Patience);
            await buffer.Reader.ReadAsync(wait.Token);
            read++;
        }

        // A source counts lines as admitted once the buffer's write has returned, so the reader may hold the last of
        // them a moment before the count does: wait for it rather than read it once.
        await WaitAsync(() => info.Admitted == 200, "every line counted as admitted");
        Assert.Equal(0, info.Dropped);
        await source.DisposeAsync();
    }

    [Fact]
    public async Task Stop_WithLinesWrittenButNotYetRead_ReadsThemAllAndClosesWithoutReset()
    {
        // A small buffer nobody drains yet: the connection stops reading, and the rest waits in the socket.
        var buffer = new BoundedBuffer<RawLine>(new BufferOptions<RawLine> { Capacity = 50 });
        var (source, info) = await StartAsync(buffer, TimeProvider.System, maxConnections: 10);
        using var client = new TcpClient();
        await client.ConnectAsync(source.LocalEndpoint!);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(0, 2000).Select(i => $"line {i} of a sender that keeps its connection open\n"))));
        await WaitAsync(() => info.Received >= 50, "the buffer to fill");

        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var stop = source.StopAsync(deadline.Token);
        var read = 0;
        while (read < 2000)
        {
            using var wait = new CancellationTokenSource(Patience);
            var line = await buffer.Reader.ReadAsync(wait.Token);
            Assert.Equal($"line {read} of a sender that keeps its connection open", Encoding.UTF8.GetString(line.Data));
            read++;
        }

        await stop;
        Assert.Equal(2000, info.Admitted);
        Assert.Equal(0, info.Dropped);

        // The source read everything before closing, so the sender sees an orderly end, not a reset.
        stream.ReadTimeout = 5000;
        Assert.Equal(0, await stream.ReadAsync(new byte[1]));
        await source.DisposeAsync();
    }

    [Fact]
    public async Task Stop_WhileWaitingForRoomLongerThanTheLinger_ReadsOnAfterwards()
    {
        // The stop linger is how long a sender may stay quiet; a connection waiting for room in a full buffer is not
        // reading, so that wait is no silence of the sender's and must not end the read-on.
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var buffer = new BoundedBuffer<RawLine>(new BufferOptions<RawLine> { Capacity = 50 });
        var (source, info) = await StartAsync(buffer, time, maxConnections: 10);
        using var client = new TcpClient();
        await client.ConnectAsync(source.LocalEndpoint!);
        await client.GetStream().WriteAsync(Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(0, 2000).Select(static i => $"line {i}\n"))));
        await WaitAsync(() => info.Received > info.Admitted && buffer.Count == 50, "a read to wait for room in the full buffer");

        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        var endpoint = source.LocalEndpoint!;
        var stop = source.StopAsync(deadline.Token);

        // The listener closes once the stop's callbacks have run (the connection's among them): then the clock moves.
        await WaitAsync(() => !Accepts(endpoint), "the listener to close");
        time.Advance(TcpSource.StopLinger * 3);

        // The sender writes on: no quiet moment of its own has passed, so these lines are read too.
        await client.GetStream().WriteAsync(Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(2000, 100).Select(static i => $"line {i}\n"))));
        var read = 0;
        while (read < 2100)
        {
            using var wait = new CancellationTokenSource(Patience);
            var line = await buffer.Reader.ReadAsync(wait.Token);
            Assert.Equal($"line {read}", Encoding.UTF8.GetString(line.Data));
            read++;
        }

        // Now the sender is quiet: the linger ends the read-on.
        Assert.False(stop.IsCompleted);
        await WaitAsync(
            () =>
            {
                time.Advance(TcpSource.StopLinger);
                return stop.IsCompleted;
            },
            "the linger to end the stop");
        await stop;
        Assert.Equal(2100, info.Admitted);
        Assert.Equal(0, info.Dropped);
        await source.DisposeAsync();
    }

    [Fact]
    public async Task Stop_SenderThatNeverPauses_StopsReadingAtTheReadOnDeadlineAndAdmitsEverythingItRead()
    {
        // A sender that keeps writing through the stop (a forwarder holding its connection): reading on to the end of
        // the connection would never end by itself, and would keep the buffer full until the drain deadline.
        var buffer = new BoundedBuffer<RawLine>(new BufferOptions<RawLine> { Capacity = 50 });
        var (source, info) = await StartAsync(buffer, TimeProvider.System, maxConnections: 10);
        using var client = new TcpClient();
        await client.ConnectAsync(source.LocalEndpoint!);
        var sender = Task.Run(async () =>
        {
            var stream = client.GetStream();
            try
            {
                for (var n = 0; ; n += 100)
                {
                    await stream.WriteAsync(Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(n, 100).Select(static i => $"line {i} of a sender that never pauses\n"))));
                }
            }
            catch (Exception ex) when (ex is IOException or SocketException)
            {
                // The source closed the connection at the read-on deadline.
            }
        });
        await WaitAsync(() => info.Received >= 50, "the buffer to fill");

        using var readOn = new CancellationTokenSource();
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        var stop = source.StopAsync(readOn.Token, deadline.Token);
        var read = 0;
        void ReadAvailable()
        {
            while (buffer.Reader.TryRead(out var line))
            {
                Assert.StartsWith($"line {read} ", Encoding.UTF8.GetString(line.Data), StringComparison.Ordinal);
                read++;
            }
        }

        // The stopped source reads on (the sender's lines keep coming) until the read-on deadline.
        await WaitAsync(() =>
        {
            ReadAvailable();
            return read >= 2000;
        }, "lines read on after the stop");
        Assert.False(stop.IsCompleted);
        await readOn.CancelAsync();

        // Then it ends long before the drain deadline, with every line it read admitted in order and none dropped.
        await WaitAsync(() =>
        {
            ReadAvailable();
            return stop.IsCompleted;
        }, "the stop to end at the read-on deadline");
        await stop;
        ReadAvailable();
        Assert.False(deadline.IsCancellationRequested);
        Assert.Equal(0, info.Dropped);
        Assert.Equal(info.Received, info.Admitted);
        Assert.Equal(info.Admitted, read);
        await sender.WaitAsync(Patience);
        await source.DisposeAsync();
    }

    private static bool Accepts(System.Net.EndPoint endpoint)
    {
        using var probe = new Socket(SocketType.Stream, ProtocolType.Tcp);
        try
        {
            probe.Connect(endpoint);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private async Task<(TcpSource Source, SourceInfo Info)> StartAsync(BoundedBuffer<RawLine> buffer, TimeProvider time, int maxConnections)
    {
        var options = new SourceOptions { Type = SourceType.Tcp, Port = 0, MaxConnections = maxConnections };
        var info = new SourceInfo("tcp", "tcp", LogParsers.Create("auto"));
        var source = new TcpSource(options, info, buffer.Writer, _log, time);
        await source.StartAsync(CancellationToken.None);
        return (source, info);
    }

    private static async Task WaitAsync(Func<bool> condition, string what)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(watch.Elapsed < Patience, "timed out waiting for " + what);
            await Task.Delay(10);
        }
    }
}
