using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;

namespace Conveyor.Cli.Tests.Service;

/// <summary>Bad requests, bad lines and bad senders: each refused with a reason, none able to hurt the service.</summary>
public sealed class BadInputTests : IAsyncLifetime, IDisposable
{
    private readonly string _dir = ConveyorProcess.TempDirectory();
    private readonly int _http = ConveyorProcess.FreePort();
    private readonly int _tcp = ConveyorProcess.FreePort();
    private ConveyorProcess? _process;
    private HttpClient? _client;

    public async Task InitializeAsync()
    {
        var config = Path.Combine(_dir, "conveyor.json");
        await File.WriteAllTextAsync(config, $$"""
            {
              "sources": [
                { "type": "http", "port": {{_http}}, "bearerToken": "s3cret", "maxBodyBytes": 65536, "maxLineBytes": 1024 },
                { "type": "tcp", "port": {{_tcp}}, "idleTimeout": "00:00:01", "maxLineBytes": 1024 }
              ],
              "sinks": [ { "uri": "sqlite:{{Path.Combine(_dir, "x.db")}}" } ]
            }
            """);
        _process = ConveyorProcess.Start(_dir, ["run", "--config", config]);
        await _process.WaitForLogAsync("Pipeline started", TimeSpan.FromSeconds(60));
        _client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{_http}") };
        _client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "s3cret");
        await TestWait.UntilAsync(async () => await RunEndToEndTests.TryGet(_client, "/health") == HttpStatusCode.OK, TimeSpan.FromSeconds(30), "/health");
    }

    public void Dispose() => _client?.Dispose();

    public async Task DisposeAsync()
    {
        if (_process is not null)
        {
            await _process.DisposeAsync();
        }
    }

    [Fact]
    public async Task Ingest_BadRequests_AnswerWithStatusAndReason()
    {
        using var anonymous = new HttpClient { BaseAddress = _client!.BaseAddress };
        await Expect(anonymous, Senders.Body(["a"]), HttpStatusCode.Unauthorized, "bearer token");
        await Expect(_client!, Senders.Body(["a"], type: "application/json"), HttpStatusCode.UnsupportedMediaType, "content type");
        await Expect(_client!, Senders.Body(Enumerable.Repeat(new string('x', 1000), 100)), HttpStatusCode.RequestEntityTooLarge, "limit");

        // 100 KB of zeros gzip to a few hundred bytes: the limit holds after decompression too.
        await Expect(_client!, Senders.Body([new string('0', 100_000)], gzip: true), HttpStatusCode.RequestEntityTooLarge, "decompression");
        var notGzip = new ByteArrayContent(Encoding.UTF8.GetBytes("plain text, not gzip"));
        notGzip.Headers.ContentType = new MediaTypeHeaderValue("text/plain");
        notGzip.Headers.ContentEncoding.Add("gzip");
        await Expect(_client!, notGzip, HttpStatusCode.BadRequest, "gzip");
        await Expect(_client!, Senders.Body(["ok line"], gzip: true, type: "application/x-ndjson"), HttpStatusCode.Accepted, "accepted");
    }

    [Fact]
    public async Task Ingest_LineOverMaximum_DeadLetteredWhole()
    {
        await Expect(_client!, Senders.Body([new string('y', 5000), Senders.AccessLine("ok", 1)]), HttpStatusCode.Accepted, "\"accepted\":2");
        await WaitStoredAsync(events: 1, dead: 1);
    }

    [Fact]
    public async Task Tcp_OversizedLineAndInvalidUtf8_DeadLetteredNotSplit()
    {
        using var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", _tcp);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.UTF8.GetBytes(new string('z', 10_000) + "\n" + Senders.AccessLine("tcp", 1) + "\n"));
        await stream.WriteAsync(new byte[] { (byte)'{', 0xFF, 0xFE, 0x80, (byte)'\n' });
        client.Client.Shutdown(SocketShutdown.Send);
        while (await stream.ReadAsync(new byte[16]) > 0)
        {
        }

        // 10,000 bytes over a 1,024 maximum: one dead letter, not ten fragments; the next line is intact.
        await WaitStoredAsync(events: 1, dead: 2);
    }

    [Fact]
    public async Task Tcp_SlowlorisSender_DisconnectedAfterIdleTimeout()
    {
        using var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", _tcp);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.UTF8.GetBytes("half a li"));
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));

        // The server closes the connection: the read ends (0 bytes or a reset) long before the test's own deadline.
        try
        {
            Assert.Equal(0, await stream.ReadAsync(new byte[16], cts.Token));
        }
        catch (IOException)
        {
        }

        Assert.False(cts.IsCancellationRequested);
        await _process!.WaitForLogAsync("closed idle connection", TimeSpan.FromSeconds(10));
    }

    private async Task WaitStoredAsync(long events, long dead)
    {
        var db = Path.Combine(_dir, "x.db");
        await TestWait.UntilAsync(
            async () => File.Exists(db) && await Senders.CountAsync(db) is var (e, d) && e >= events && d >= dead,
            TimeSpan.FromSeconds(30),
            $"{events} events and {dead} dead letters");
        Assert.Equal((events, dead), await Senders.CountAsync(db));
    }

    private static async Task Expect(HttpClient client, HttpContent content, HttpStatusCode status, string reason)
    {
        using var response = await client.PostAsync("/ingest", content);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"expected {status}, got {response.StatusCode}: {body}");
        Assert.Contains(reason, body, StringComparison.OrdinalIgnoreCase);
    }
}
