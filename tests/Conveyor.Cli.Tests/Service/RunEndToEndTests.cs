using System.Net;
using System.Text;

namespace Conveyor.Cli.Tests.Service;

/// <summary><c>conveyor run</c> as a real process: lines in over every source, counted out of the store.</summary>
public sealed class RunEndToEndTests
{
    [Fact]
    public async Task Run_PipelineStartedLogged_EveryHttpPortAlreadyAnswers()
    {
        // Scripts wait for "Pipeline started" and then send: the line must mean every listener is bound. No retry here.
        var dir = ConveyorProcess.TempDirectory();
        int http = ConveyorProcess.FreePort(), otlp = ConveyorProcess.FreePort();
        await using var p = await ConveyorProcess.StartPipelineAsync(dir, ["run", "--from", $"http://127.0.0.1:{http}", "--from", $"otlp://127.0.0.1:{otlp}", "--to", "null:"]);
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{http}") };
        Assert.Equal(HttpStatusCode.OK, await TryGet(client, "/health"));
        using var ingest = await client.PostAsync("/ingest", new StringContent("a line\n"));
        Assert.Equal(HttpStatusCode.Accepted, ingest.StatusCode);
        Assert.Equal(0, await p.TerminateAsync(TimeSpan.FromSeconds(60)));
    }

    [Fact]
    public async Task Run_LinesOverEverySource_SentEqualsStoredPlusDeadLetteredPlusDropped()
    {
        var dir = ConveyorProcess.TempDirectory();
        int http = ConveyorProcess.FreePort(), tcp = ConveyorProcess.FreePort(), syslog = ConveyorProcess.FreePort();
        var logs = Path.Combine(dir, "logs");
        Directory.CreateDirectory(logs);
        await File.WriteAllLinesAsync(Path.Combine(logs, "a.log"), Enumerable.Range(0, 300).Select(i => i % 50 == 0 ? "{garbage line " + i : Senders.AccessLine("file", i)));
        var db = Path.Combine(dir, "x.db");
        await using var p = await ConveyorProcess.StartPipelineAsync(dir,
        [
            "run", "--from", $"http://127.0.0.1:{http}", "--from", $"tcp://127.0.0.1:{tcp}", "--from", $"syslog+udp://127.0.0.1:{syslog}",
            "--from", $"file://{logs}/*.log", "--to", "sqlite:" + db,
        ]);
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{http}") };
        await TestWait.UntilAsync(async () => (await TryGet(client, "/health")) == HttpStatusCode.OK, ConveyorProcess.Startup, "/health");

        long accepted = 0;
        for (var r = 0; r < 5; r++)
        {
            using var response = await client.PostAsync("/ingest", Senders.Body(Enumerable.Range(r * 100, 100).Select(i => Senders.AccessLine("http", i)), gzip: r % 2 == 1));
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            var body = await response.Content.ReadAsStringAsync();
            Assert.Equal("{\"accepted\":100}", body);
            accepted += 100;
        }

        await Task.WhenAll(
            Senders.SendTcpAsync(tcp, Enumerable.Range(0, 500).Select(i => Senders.AccessLine("tcp-a", i))),
            Senders.SendTcpAsync(tcp, Enumerable.Range(0, 500).Select(i => i == 7 ? "<999>not an access line" : Senders.AccessLine("tcp-b", i))));
        await Senders.SendUdpAsync(syslog, Enumerable.Range(0, 200).Select(i => $"<34>1 2026-11-27T10:00:00Z host app - ID{i} - message {i}"));

        // The file source tails on its own; wait until its 300 lines are in, then stop.
        await TestWait.UntilAsync(async () => await PipelineReceived(client, "source:file") == 300, TimeSpan.FromSeconds(30), "the file's 300 lines");
        await TestWait.UntilAsync(async () => await PipelineReceived(client, "source:syslog-udp-" + syslog) + await PipelineDropped(client, "source:syslog-udp-" + syslog) == 200, TimeSpan.FromSeconds(10), "the UDP datagrams");

        await TestWait.UntilAsync(async () => await PipelineValue(client, "write:sqlite", "sent") >= 1500, TimeSpan.FromSeconds(30), "HTTP and TCP lines stored");
        using (var search = await client.GetAsync("/api/search?q=url.original~%2Fhttp%2F&limit=5"))
        {
            Assert.Equal(HttpStatusCode.OK, search.StatusCode);
            using var found = System.Text.Json.JsonDocument.Parse(await search.Content.ReadAsStringAsync());
            Assert.Equal(5, found.RootElement.GetProperty("events").GetArrayLength());
        }

        using (var bad = await client.GetAsync("/api/search?q=status%3E%3D"))
        {
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
            Assert.Contains("\"column\"", await bad.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        var metrics = await client.GetStringAsync("/metrics");
        Assert.Contains("conveyor_pipeline_balanced", metrics, StringComparison.Ordinal);
        Assert.Contains("conveyor_source_records_received", metrics, StringComparison.Ordinal);
        Assert.Contains("conveyor_buffer_depth", metrics, StringComparison.Ordinal);
        using (var pipeline = System.Text.Json.JsonDocument.Parse(await client.GetStringAsync("/api/pipeline")))
        {
            var main = pipeline.RootElement.GetProperty("stages").EnumerateArray().First(static e => e.GetProperty("name").GetString() == "main");
            Assert.Equal(20_000, main.GetProperty("capacity").GetInt64());
            Assert.All(pipeline.RootElement.GetProperty("stages").EnumerateArray(), static e => Assert.True(e.GetProperty("balanced").GetBoolean(), e.ToString()));
        }

        Assert.Equal(0, await p.TerminateAsync(TimeSpan.FromSeconds(60)));
        var sent = 500 + 1000 + 200 + 300;
        var (events, dead) = await Senders.CountAsync(db);
        var dropped = p.Report("dropped at sources");
        Assert.Equal(sent, events + dead + dropped);
        Assert.Equal(sent - dropped, p.Report("admitted"));
        Assert.Equal(p.Report("admitted"), p.SinkReport("stored") + p.SinkReport("events and"));
        Assert.True(dead >= 7, $"expected the 6 garbage file lines and 1 bad TCP line as dead letters, found {dead}");
        Assert.Equal(0, p.Report("left at deadline"));
    }

    [Fact]
    public async Task Run_StdinOnly_StoresEveryLineAndExitsZeroAtEof()
    {
        var dir = ConveyorProcess.TempDirectory();
        var db = Path.Combine(dir, "x.db");
        await using var p = ConveyorProcess.Start(dir, ["run", "--from", "stdin:", "--to", "sqlite:" + db], redirectStdin: true);
        for (var i = 0; i < 2000; i++)
        {
            await p.StandardInput.WriteLineAsync(i % 100 == 0 ? "{\u00ff\u00fe broken" : Senders.AccessLine("stdin", i));
        }

        // Invalid UTF-8 too, in a line that starts like JSON: it must become a dead letter, not crash a worker.
        await p.StandardInput.BaseStream.WriteAsync(new byte[] { (byte)'{', 0x80, 0xC3, (byte)'\n' });
        p.StandardInput.Close();
        Assert.Equal(0, await p.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        var (events, dead) = await Senders.CountAsync(db);
        Assert.Equal(2001, events + dead);
        Assert.True(dead >= 21, $"dead letters: {dead}");
    }

    [Fact]
    public async Task Run_SyslogTcp_OctetCountedAndNewlineFramesAllStored()
    {
        var dir = ConveyorProcess.TempDirectory();
        var port = ConveyorProcess.FreePort();
        var db = Path.Combine(dir, "x.db");
        await using var p = await ConveyorProcess.StartPipelineAsync(dir, ["run", "--from", $"syslog+tcp://127.0.0.1:{port}", "--to", "sqlite:" + db]);
        var frames = new StringBuilder();
        for (var i = 0; i < 300; i++)
        {
            var message = $"<165>1 2026-11-27T10:00:{i % 60:00}Z host app {i} ID47 - message {i} with no newline";
            frames.Append(i % 2 == 0 ? $"{Encoding.UTF8.GetByteCount(message)} {message}" : message + "\n");
        }

        await Senders.SendTcpAsync(port, [frames.ToString().TrimEnd('\n')]);
        Assert.Equal(0, await p.TerminateAsync(TimeSpan.FromSeconds(60)));
        Assert.Equal((300L, 0L), await Senders.CountAsync(db));
    }

    [Fact]
    public async Task Run_NdjsonToStdout_StdoutCarriesOnlyData()
    {
        var dir = ConveyorProcess.TempDirectory();
        await using var p = ConveyorProcess.Start(dir, ["run", "--from", "stdin:", "--to", "ndjson:-"], redirectStdin: true);
        for (var i = 0; i < 50; i++)
        {
            await p.StandardInput.WriteLineAsync(Senders.AccessLine("nd", i));
        }

        p.StandardInput.Close();
        Assert.Equal(0, await p.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("Shutdown report", p.Stderr, StringComparison.Ordinal);
        var lines = p.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(50, lines.Length);
        Assert.All(lines, l => Assert.StartsWith("{", l, StringComparison.Ordinal));
    }

    internal static async Task<HttpStatusCode?> TryGet(HttpClient client, string path)
    {
        try
        {
            using var r = await client.GetAsync(path);
            return r.StatusCode;
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }

    internal static async Task<long> PipelineReceived(HttpClient client, string stage) => await PipelineValue(client, stage, "received");

    internal static async Task<long> PipelineDropped(HttpClient client, string stage)
    {
        using var doc = System.Text.Json.JsonDocument.Parse(await client.GetStringAsync("/api/pipeline"));
        var s = doc.RootElement.GetProperty("stages").EnumerateArray().First(e => e.GetProperty("name").GetString() == stage);
        return s.GetProperty("dropped").EnumerateObject().Sum(static x => x.Value.GetInt64());
    }

    internal static async Task<long> PipelineValue(HttpClient client, string stage, string field)
    {
        using var doc = System.Text.Json.JsonDocument.Parse(await client.GetStringAsync("/api/pipeline"));
        var s = doc.RootElement.GetProperty("stages").EnumerateArray().FirstOrDefault(e => e.GetProperty("name").GetString() == stage);
        return s.ValueKind == System.Text.Json.JsonValueKind.Undefined ? -1 : s.GetProperty(field).GetInt64();
    }

    internal static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);
}
