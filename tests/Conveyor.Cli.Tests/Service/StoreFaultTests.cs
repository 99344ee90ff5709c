using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Conveyor.Logs.Query;

namespace Conveyor.Cli.Tests.Service;

/// <summary>
/// Stores that fail under a real <c>conveyor run</c>: a full disk (a small tmpfs, mounted here as root), a damaged
/// file at start-up, and retention deleting old rows while the service runs.
/// </summary>
public sealed class StoreFaultTests
{
    [Fact]
    public async Task Run_StoreOnFullDisk_ShowsTheFailingSinkWithinTenSecondsRecoversAndLosesNothing()
    {
        var dir = ConveyorProcess.TempDirectory();
        var mount = Path.Combine(dir, "small");
        Directory.CreateDirectory(mount);
        await RunAsync("mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", mount);
        try
        {
            // The filler leaves the store a few hundred KB: it fills at once; deleting the filler frees the disk.
            var filler = Path.Combine(mount, "filler");
            await using (var f = File.Create(filler))
            {
                f.SetLength(0);
                var block = new byte[64 * 1024];
                for (var i = 0; i < (7 * 1024 * 1024) + (768 * 1024); i += block.Length)
                {
                    f.Write(block);
                }
            }

            int http = ConveyorProcess.FreePort(), tcp = ConveyorProcess.FreePort();
            await using var p = await ConveyorProcess.StartPipelineAsync(dir,
                ["run", "--from", $"http://127.0.0.1:{http}", "--from", $"tcp://127.0.0.1:{tcp}", "--to", "sqlite:" + Path.Combine(mount, "store.db"), "--format", "combined"]);
            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{http}") };

            const int Lines = 3000;
            var sending = Senders.SendTcpAsync(tcp, Enumerable.Range(0, Lines).Select(i => Senders.AccessLine("disk", i)));
            var started = Stopwatch.StartNew();

            // Visible at once: a warning, /ready 503 naming the sink, and the sink unhealthy with its failure count.
            await p.WaitForLogAsync("Sink sqlite: a write failed and is being retried", TimeSpan.FromSeconds(10));
            await TestWait.UntilAsync(async () => (await ReadyAsync(client)).Status == HttpStatusCode.ServiceUnavailable, TimeSpan.FromSeconds(10) - started.Elapsed, "/ready 503");
            var ready = await ReadyAsync(client);
            Assert.Contains("sink sqlite is down", ready.Body, StringComparison.Ordinal);
            var sink = await SinkStageAsync(client);
            Assert.False(sink.GetProperty("healthy").GetBoolean(), sink.ToString());
            Assert.True(sink.GetProperty("failures").GetInt64() >= 1, sink.ToString());
            Assert.Contains("full", sink.GetProperty("error").GetString(), StringComparison.OrdinalIgnoreCase);
            Assert.True(started.Elapsed < TimeSpan.FromSeconds(10), $"visible after {started.Elapsed}");

            // Space comes back: the sink recovers by itself and stores every line.
            File.Delete(filler);
            await p.WaitForLogAsync("Sink sqlite recovered", TimeSpan.FromSeconds(30));
            await sending;
            await TestWait.UntilAsync(async () => await RunEndToEndTests.PipelineValue(client, "write:sqlite", "sent") == Lines, TimeSpan.FromSeconds(30), "every line stored");
            await TestWait.UntilAsync(async () => (await ReadyAsync(client)).Status == HttpStatusCode.OK, TimeSpan.FromSeconds(10), "/ready 200 again");
            sink = await SinkStageAsync(client);
            Assert.True(sink.GetProperty("healthy").GetBoolean(), sink.ToString());
            Assert.Equal(0, sink.GetProperty("failures").GetInt64());
            var metrics = await client.GetStringAsync("/metrics");
            Assert.Equal(0, MetricValue(metrics, "conveyor_sink_failed_total", "sqlite"));
            Assert.True(MetricValue(metrics, "conveyor_sink_errors_total", "sqlite") >= 1);

            Assert.Equal(0, await p.TerminateAsync(TimeSpan.FromSeconds(60)));
            Assert.Equal(Lines, p.Report("admitted"));
            Assert.Equal(p.Report("admitted"), p.SinkReport("stored") + p.SinkReport("and") + p.SinkReport("rejected") + p.SinkReport("dropped at queue") + p.SinkReport("failed"));
            Assert.Equal(0, p.SinkReport("failed"));
            await using var store = LogStore.Open("sqlite:" + Path.Combine(mount, "store.db"));
            Assert.Equal(Lines, await store.CountAsync(new LogQuery("url.original ~ /disk/")));
        }
        finally
        {
            await RunAsync("umount", "-l", mount);
        }
    }

    [Fact]
    public async Task Run_StoreWithRandomBytesInTheMiddle_ExitsTwoNamingIt()
    {
        var dir = ConveyorProcess.TempDirectory();
        var db = Path.Combine(dir, "damaged.db");
        await using (var sink = await Conveyor.Logs.Sinks.Sqlite.SqliteSink.OpenAsync(new Conveyor.Logs.Sinks.Sqlite.SqliteSinkOptions { Path = db }))
        {
            for (var b = 0; b < 10; b++)
            {
                var batch = Enumerable.Range(b * 1000, 1000).Select(i =>
                {
                    var e = new Conveyor.Logs.Model.LogEvent($"e{i}", "web", Senders.AccessLine("old", i), DateTimeOffset.UtcNow);
                    e.Attributes.Set("n", (long)i);
                    return e;
                }).ToList();
                await sink.WriteBatchAsync(batch, default);
            }
        }

        var garbage = new byte[200 * 1024];
        new Random(7).NextBytes(garbage);
        await using (var f = new FileStream(db, FileMode.Open, FileAccess.Write))
        {
            f.Position = (f.Length / 2) - (garbage.Length / 2);
            f.Write(garbage);
        }

        await using var p = ConveyorProcess.Start(dir, ["run", "--from", $"tcp://127.0.0.1:{ConveyorProcess.FreePort()}", "--to", "sqlite:" + db]);
        Assert.Equal(2, await p.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains(db, p.Stderr, StringComparison.Ordinal);
        Assert.Contains("could not start", p.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Pipeline started", p.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_RetentionMaxAge_DeletesOldRowsWhileRunningAndLogsIt()
    {
        var dir = ConveyorProcess.TempDirectory();
        var tcp = ConveyorProcess.FreePort();
        var db = Path.Combine(dir, "kept.db");
        var config = Path.Combine(dir, "retention.yaml");
        await File.WriteAllTextAsync(config, $"""
            sources:
              - type: tcp
                port: {tcp}
                format: combined
            sinks:
              - uri: "sqlite:{db}"
                retention:
                  maxAge: 1d
                  interval: 1s
            """);
        await using var p = await ConveyorProcess.StartPipelineAsync(dir, ["run", "--config", config]);
        await p.WaitForLogAsync("Store maintenance for sink sqlite every 00:00:01", TimeSpan.FromSeconds(10));

        // Lines from three days ago and lines from now, by their own timestamps.
        var now = DateTimeOffset.UtcNow;
        string Line(string tag, int i, DateTimeOffset at) =>
            $"10.0.0.{(i % 200) + 1} - - [{at.ToString("dd/MMM/yyyy:HH:mm:ss", CultureInfo.InvariantCulture)} +0000] \"GET /{tag}/{i} HTTP/1.1\" 200 {i} \"-\" \"curl/8.5.0\"";
        await Senders.SendTcpAsync(tcp, Enumerable.Range(0, 200).Select(i => Line("old", i, now.AddDays(-3))).Concat(Enumerable.Range(0, 50).Select(i => Line("new", i, now))));

        await p.WaitForLogAsync("Retention on sink sqlite deleted", TimeSpan.FromSeconds(30));
        await using var store = LogStore.Open("sqlite:" + db);
        await TestWait.UntilAsync(async () => await store.CountAsync(new LogQuery("url.original ~ /old/")) == 0, TimeSpan.FromSeconds(30), "the old rows deleted");
        Assert.Equal(50, await store.CountAsync(new LogQuery("url.original ~ /new/")));
        Assert.Equal(0, await p.TerminateAsync(TimeSpan.FromSeconds(60)));
        var deleted = p.Stderr.Split('\n').Where(static l => l.Contains("Retention on sink sqlite deleted", StringComparison.Ordinal))
            .Sum(static l => long.Parse(System.Text.RegularExpressions.Regex.Match(l, @"deleted (\d+) events").Groups[1].Value, CultureInfo.InvariantCulture));
        Assert.Equal(200, deleted);
    }

    [Fact]
    public async Task Validate_StoreSettingsTheSinkDoesNotHave_NameTheKey()
    {
        var dir = ConveyorProcess.TempDirectory();
        var config = Path.Combine(dir, "bad-store.yaml");
        await File.WriteAllTextAsync(config, """
            sources:
              - type: tcp
                port: 5170
            sinks:
              - uri: "sqlite:x.db"
                fullText: fuzzy
                retention:
                  maxAge: 0s
                  interval: 10ms
              - uri: "ndjson:x.ndjson"
                fullText: words
                retention:
                  maxBytes: 100000000
              - uri: "postgres:Host=127.0.0.1"
                fullText: words
            """);
        await using var p = ConveyorProcess.Start(dir, ["validate", "--config", config]);
        Assert.Equal(2, await p.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("sinks:0:fullText: must be one of words|trigram|none for a sqlite: sink (was 'fuzzy')", p.Stderr, StringComparison.Ordinal);
        Assert.Contains("sinks:0:retention:maxAge: must be positive", p.Stderr, StringComparison.Ordinal);
        Assert.Contains("sinks:0:retention:interval: must be 00:00:01-1.00:00:00", p.Stderr, StringComparison.Ordinal);
        Assert.Contains("sinks:1:fullText: only sqlite: and postgres: sinks have a full-text index", p.Stderr, StringComparison.Ordinal);
        Assert.Contains("sinks:1:retention: only sqlite: and postgres: sinks can delete old events", p.Stderr, StringComparison.Ordinal);
        Assert.Contains("sinks:2:fullText: must be one of trigram|none for a postgres: sink (was 'words')", p.Stderr, StringComparison.Ordinal);
    }

    private static async Task<(HttpStatusCode Status, string Body)> ReadyAsync(HttpClient client)
    {
        using var response = await client.GetAsync("/ready");
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private static async Task<JsonElement> SinkStageAsync(HttpClient client)
    {
        using var doc = JsonDocument.Parse(await client.GetStringAsync("/api/pipeline"));
        return doc.RootElement.GetProperty("stages").EnumerateArray().First(static e => e.GetProperty("name").GetString() == "write:sqlite").Clone();
    }

    /// <summary>The value of a Prometheus sample of <paramref name="name"/> tagged with the sink.</summary>
    private static double MetricValue(string exposition, string name, string sink)
    {
        var line = exposition.Split('\n').FirstOrDefault(l => l.StartsWith(name + "{", StringComparison.Ordinal) && l.Contains($"sink=\"{sink}\"", StringComparison.Ordinal))
            ?? throw new InvalidOperationException($"no {name} for sink {sink} in:\n{exposition}");
        return double.Parse(line[(line.LastIndexOf('}') + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
    }

    private static async Task RunAsync(string file, params string[] args)
    {
        using var process = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardError = true, RedirectStandardOutput = true })!;
        var stderr = process.StandardError.ReadToEndAsync();
        await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"{file} {string.Join(' ', args)} failed ({process.ExitCode}): {await stderr} (this test mounts a tmpfs and needs root)");
    }
}
