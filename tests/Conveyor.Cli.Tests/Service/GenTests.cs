using System.Net;
using System.Text;
using Conveyor.Logs.Parsing;

namespace Conveyor.Cli.Tests.Service;

/// <summary><c>conveyor gen</c>: realistic lines in every format, to the service over TCP and HTTP, reporting what was refused.</summary>
public sealed class GenTests
{
    [Theory]
    [InlineData("combined")]
    [InlineData("common")]
    [InlineData("json")]
    [InlineData("logfmt")]
    [InlineData("syslog5424")]
    [InlineData("syslog3164")]
    public async Task Gen_Stdout_EveryLineParsesInItsFormat(string format)
    {
        await using var p = ConveyorProcess.Start(ConveyorProcess.TempDirectory(), ["gen", "--count", "200", "--rate", "100000", "--format", format, "--to", "-"]);
        Assert.Equal(0, await p.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        var lines = p.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(200, lines.Length);
        var parser = LogParsers.Create(format);
        foreach (var line in lines)
        {
            var outcome = parser.Parse(Encoding.UTF8.GetBytes(line), new LineContext("gen", "gen:1", DateTimeOffset.UtcNow));
            Assert.True(outcome.Succeeded, $"{format}: {outcome.DeadLetter?.Reason}\n{line}");
        }

        Assert.True(lines.Distinct().Count() > 150, "lines vary");
        Assert.Contains(lines, static l => l.Contains("2001:db8:", StringComparison.Ordinal));
        Assert.Contains("sent 200 lines", p.Stderr, StringComparison.Ordinal);

        // The summary's byte count is what the store's disk per line is compared with: every byte written, newlines too.
        Assert.EndsWith($"; {Encoding.UTF8.GetByteCount(p.Stdout)} bytes", p.Stderr.TrimEnd(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Gen_ToTcp_EveryLineStored()
    {
        var dir = ConveyorProcess.TempDirectory();
        var tcp = ConveyorProcess.FreePort();
        var db = Path.Combine(dir, "x.db");
        await using var service = ConveyorProcess.Start(dir, ["run", "--from", $"tcp://127.0.0.1:{tcp}", "--to", "sqlite:" + db]);
        await service.WaitForLogAsync("Pipeline started", TimeSpan.FromSeconds(60));
        await using var gen = ConveyorProcess.Start(dir, ["gen", "--count", "3000", "--rate", "20000", "--servers", "3", "--to", $"tcp://127.0.0.1:{tcp}"]);
        Assert.Equal(0, await gen.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("sent 3,000 lines", gen.Stderr, StringComparison.Ordinal);

        // The generator's connections are closed; the service read what they carried once received equals 3000.
        await TestWait.UntilAsync(() => Task.FromResult(File.Exists(db)), TimeSpan.FromSeconds(30), "the database");
        await TestWait.UntilAsync(async () => await Senders.CountAsync(db) is var (e, d) && e + d == 3000, TimeSpan.FromSeconds(30), "3000 stored");
        Assert.Equal(0, await service.TerminateAsync(TimeSpan.FromSeconds(60)));
        Assert.Equal((3000L, 0L), await Senders.CountAsync(db));
    }

    [Fact]
    public async Task Gen_ToHttpAgainstSlowSink_HonoursRetryAfterAndDeliversAll()
    {
        var dir = ConveyorProcess.TempDirectory();
        var http = ConveyorProcess.FreePort();
        var db = Path.Combine(dir, "x.db");
        var config = Path.Combine(dir, "c.json");
        await File.WriteAllTextAsync(config, $$"""
            {
              "sources": [ { "type": "http", "port": {{http}}, "blockTimeout": "00:00:00" } ],
              "buffer": { "capacity": 400 },
              "sinks": [ { "uri": "slow:50ms+sqlite:{{db}}", "batchMaxItems": 100, "queue": { "capacity": 200 } } ]
            }
            """);
        await using var service = ConveyorProcess.Start(dir, ["run", "--config", config]);
        await service.WaitForLogAsync("Pipeline started", TimeSpan.FromSeconds(60));
        using (var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{http}") })
        {
            await TestWait.UntilAsync(async () => await RunEndToEndTests.TryGet(client, "/health") == HttpStatusCode.OK, TimeSpan.FromSeconds(30), "/health");
        }

        await using var gen = ConveyorProcess.Start(dir, ["gen", "--count", "3000", "--rate", "50000", "--servers", "3", "--batch", "200", "--to", $"http://127.0.0.1:{http}/ingest"]);
        Assert.Equal(0, await gen.WaitForExitAsync(TimeSpan.FromSeconds(90)));
        Assert.Contains("sent 3,000 lines", gen.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("receiver refused 0 ", gen.Stderr, StringComparison.Ordinal);
        Assert.Equal(0, await service.TerminateAsync(TimeSpan.FromSeconds(60)));
        Assert.Equal((3000L, 0L), await Senders.CountAsync(db));
    }
}

/// <summary><c>conveyor run --demo</c> without a terminal: plain progress lines on stderr, and a clean stop.</summary>
public sealed class DemoTests
{
    [Fact]
    public async Task RunDemo_NotATerminal_PrintsPlainProgressAndStopsCleanly()
    {
        var dir = ConveyorProcess.TempDirectory();
        int http = ConveyorProcess.FreePort(), tcp = ConveyorProcess.FreePort();
        await using var p = ConveyorProcess.Start(dir, ["run", "--demo", "--from", $"tcp://127.0.0.1:{tcp}", "--from", $"http://127.0.0.1:{http}", "--to", "null:"]);
        await p.WaitForLogAsync($"demo: dashboard http://127.0.0.1:{http}/", TimeSpan.FromSeconds(60));
        await p.WaitForLogAsync("demo: generated", TimeSpan.FromSeconds(30));
        using (var client = new HttpClient())
        {
            var page = await client.GetStringAsync($"http://127.0.0.1:{http}/");
            // The dashboard is served by the demo itself; its scripts are files of its own, never inline.
            Assert.Contains("<script src=\"/app.js\"", page, StringComparison.Ordinal);
            Assert.DoesNotMatch("<script(?![^>]*\\bsrc=)", page);
        }

        Assert.Equal(0, await p.TerminateAsync(TimeSpan.FromSeconds(60)));
        Assert.True(p.Report("received") > 0);
        Assert.Equal(0, p.Report("left at deadline"));
        Assert.Empty(p.Stdout);
    }
}
