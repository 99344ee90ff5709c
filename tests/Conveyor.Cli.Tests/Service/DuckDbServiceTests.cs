using System.Diagnostics;
using System.Net;
using System.Text.Json;

namespace Conveyor.Cli.Tests.Service;

/// <summary>
/// The DuckDB default store through real processes: DuckDB admits one process per file, so `conveyor query` must
/// reach a store that `conveyor run` holds through the service, and open it read-only once the service is gone.
/// </summary>
public sealed class DuckDbServiceTests
{
    private static readonly TimeSpan Startup = TimeSpan.FromSeconds(60);

    private static Task<(int Code, string Stdout, string Stderr)> Cli(string dir, params string[] args) => ConveyorProcess.RunOnceAsync(dir, args);

    private static async Task<long> Total(HttpClient client, string query)
    {
        HttpResponseMessage r;
        try
        {
            r = await client.GetAsync("/api/search?limit=1&total=1&" + query);
        }
        catch (HttpRequestException)
        {
            // The listener may still be binding right after "Pipeline started": not yet an answer, ask again.
            return -1;
        }

        using var response = r;
        if (r.StatusCode != HttpStatusCode.OK)
        {
            return -1;
        }

        using var doc = JsonDocument.Parse(await r.Content.ReadAsStringAsync());
        return doc.RootElement.GetProperty("total").GetInt64();
    }

    [Fact]
    public async Task Run_ZeroConfigStore_QueryWhileRunningThenReadOnly_ExportAndCopy()
    {
        var dir = ConveyorProcess.TempDirectory();
        int http = ConveyorProcess.FreePort(), tcp = ConveyorProcess.FreePort();
        var store = Path.Combine(dir, "conveyor-data", "conveyor.duckdb");
        await using (var p = ConveyorProcess.Start(dir, ["run", "--format", "combined", "--from", $"http://127.0.0.1:{http}", "--from", $"tcp://127.0.0.1:{tcp}"]))
        {
            await p.WaitForLogAsync("Pipeline started", Startup);
            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{http}") };
            await Senders.SendTcpAsync(tcp, Enumerable.Range(0, 600).Select(i => i % 100 == 99 ? "garbage line " + i : Senders.AccessLine("tcp", i)));
            await TestWait.UntilAsync(async () => await Total(client, "q=") == 594 && await Total(client, "dead_letters=1") == 6, TimeSpan.FromSeconds(30), "594 events and 6 dead letters stored");

            // /api/search answers with total and histogram from the writer's own database instance.
            using (var doc = JsonDocument.Parse(await client.GetStringAsync("/api/search?q=GET&limit=5&total=1&histogram=1h")))
            {
                Assert.Equal(5, doc.RootElement.GetProperty("count").GetInt32());
                Assert.Equal(594, doc.RootElement.GetProperty("total").GetInt64());
                Assert.Equal(594, doc.RootElement.GetProperty("histogram").EnumerateArray().Sum(b => b.GetProperty("count").GetInt64()));
            }

            // Another process: zero config finds the advertised service beside the default store.
            Assert.True(File.Exists(store + ".service.json"));
            var count = await Cli(dir, "query", "", "--count");
            Assert.True(count.Code == 0, count.Stderr);
            Assert.Equal("594", count.Stdout.Trim());
            var explicitStore = await Cli(dir, "query", "--store", "duckdb:" + store, "status = 200", "--limit", "3", "--json");
            Assert.True(explicitStore.Code == 0, explicitStore.Stderr);
            Assert.Equal(3, explicitStore.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
            var histogram = await Cli(dir, "query", "GET", "--histogram", "1h");
            Assert.True(histogram.Code == 0, histogram.Stderr);
            Assert.Equal(594, histogram.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Sum(l => long.Parse(l.Split('\t')[1], System.Globalization.CultureInfo.InvariantCulture)));

            // Reading every event needs the file: refused with what to do.
            var export = await Cli(dir, "store", "export", "--format", "ndjson", "--out", "x.ndjson");
            Assert.Equal(1, export.Code);
            Assert.Contains("stop the service", export.Stderr, StringComparison.Ordinal);

            Assert.Equal(0, await p.TerminateAsync(TimeSpan.FromSeconds(60)));
        }

        Assert.False(File.Exists(store + ".service.json"));
        var after = await Cli(dir, "query", "", "--count");
        Assert.True(after.Code == 0, after.Stderr);
        Assert.Equal("594", after.Stdout.Trim());

        var ndjson = await Cli(dir, "store", "export", "--format", "ndjson", "--out", "all.ndjson");
        Assert.True(ndjson.Code == 0, ndjson.Stderr);
        var lines = await File.ReadAllLinesAsync(Path.Combine(dir, "all.ndjson"));
        Assert.Equal(594, lines.Length);
        Assert.All(lines, l => Assert.StartsWith("{\"id\":\"tcp-", l, StringComparison.Ordinal));
        Assert.Contains("594 exported", ndjson.Stderr, StringComparison.Ordinal);

        var parquet = await Cli(dir, "store", "export", "--format", "parquet", "--out", "all.parquet", "--since", "2000-01-01T00:00:00Z");
        Assert.True(parquet.Code == 0, parquet.Stderr);
        Assert.Contains("594 exported", parquet.Stderr, StringComparison.Ordinal);
        Assert.Equal("PAR1"u8.ToArray(), File.ReadAllBytes(Path.Combine(dir, "all.parquet"))[..4]);

        // Copy into the old default's place, twice (idempotent), then a restart names the copy command for it.
        var old = Path.Combine(dir, "conveyor-data", "conveyor.db");
        for (var i = 0; i < 2; i++)
        {
            var copy = await Cli(dir, "store", "copy", "--from", "duckdb:" + store, "--to", "sqlite:" + old);
            Assert.True(copy.Code == 0, copy.Stderr);
            Assert.Contains("594 events copied", copy.Stderr, StringComparison.Ordinal);
            Assert.Contains("6 dead letters copied", copy.Stderr, StringComparison.Ordinal);
        }

        Assert.Equal((594, 6), await Senders.CountAsync(old));
        await using (var p = ConveyorProcess.Start(dir, ["run", "--from", $"tcp://127.0.0.1:{ConveyorProcess.FreePort()}"]))
        {
            await p.WaitForLogAsync($"conveyor store copy --from sqlite:{old} --to duckdb:{store}", Startup);
            Assert.Equal(0, await p.TerminateAsync(TimeSpan.FromSeconds(60)));
        }
    }

    [Fact]
    public async Task Query_StoreHeldWithoutAdvert_SaysWhatToDo_AndStaleAdvertIsIgnored()
    {
        var dir = ConveyorProcess.TempDirectory();
        var store = Path.Combine(dir, "s.duckdb");
        int tcp = ConveyorProcess.FreePort();

        // No HTTP source: nothing to advertise, and DuckDB refuses a second process.
        await using (var p = ConveyorProcess.Start(dir, ["run", "--from", $"tcp://127.0.0.1:{tcp}", "--to", "duckdb:" + store]))
        {
            await p.WaitForLogAsync("Pipeline started", Startup);
            var held = await Cli(dir, "query", "--store", "duckdb:" + store, "", "--count");
            Assert.Equal(1, held.Code);
            Assert.Contains("held by another process", held.Stderr, StringComparison.Ordinal);
            Assert.Contains("--server", held.Stderr, StringComparison.Ordinal);
            await Senders.SendTcpAsync(tcp, Enumerable.Range(0, 10).Select(i => Senders.AccessLine("t", i)));
            Assert.Equal(0, await p.TerminateAsync(TimeSpan.FromSeconds(60)));
        }

        // An advert left by a process that is gone is stale: the store opens read-only.
        using (var gone = Process.Start(new ProcessStartInfo("true"))!)
        {
            await gone.WaitForExitAsync();
            await File.WriteAllTextAsync(store + ".service.json", $"{{\"url\":\"http://127.0.0.1:9\",\"pid\":{gone.Id}}}");
        }

        var count = await Cli(dir, "query", "--store", "duckdb:" + store, "", "--count");
        Assert.True(count.Code == 0, count.Stderr);
        Assert.Equal("10", count.Stdout.Trim());
    }

    [Fact]
    public async Task Run_StoreFileIsNotDuckDb_ExitsTwoNamingPathAndReason()
    {
        var dir = ConveyorProcess.TempDirectory();
        var store = Path.Combine(dir, "bad.duckdb");
        await File.WriteAllTextAsync(store, new string('x', 10_000));
        await using var p = ConveyorProcess.Start(dir, ["run", "--from", $"tcp://127.0.0.1:{ConveyorProcess.FreePort()}", "--to", "duckdb:" + store]);
        Assert.Equal(2, await p.WaitForExitAsync(Startup));
        Assert.Contains(store, p.Stderr, StringComparison.Ordinal);
        Assert.Contains("not a valid DuckDB database", p.Stderr, StringComparison.Ordinal);
    }
}
