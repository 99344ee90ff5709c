using System.Net;
using System.Text.Json;

namespace Conveyor.Cli.Tests.Service;

/// <summary>
/// Free text is a log too (issue 14): a line of no known format posted to <c>/ingest</c> of a real <c>conveyor run</c>
/// is stored as a plain event and found by <c>conveyor query</c>, while a line that starts like JSON but is not is
/// still a dead letter with its reason.
/// </summary>
public sealed class PlainLineRunTests
{
    private static readonly TimeSpan Startup = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Ingest_FreeTextLine_FoundByQueryAsAnEvent()
    {
        var dir = ConveyorProcess.TempDirectory();
        var http = ConveyorProcess.FreePort();
        var store = "sqlite:" + Path.Combine(dir, "x.db");
        await using var p = ConveyorProcess.Start(dir, ["run", "--from", $"http://127.0.0.1:{http}", "--to", store]);
        await p.WaitForLogAsync("Pipeline started", Startup);
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{http}") };
        await TestWait.UntilAsync(async () => await RunEndToEndTests.TryGet(client, "/health") == HttpStatusCode.OK, Startup, "/health");

        // What `curl --data-binary 'payment failed for order 42' /ingest` sends: the bytes as they are, no trailing
        // newline, under curl's default content type for -d.
        using var curl = new ByteArrayContent("payment failed for order 42"u8.ToArray());
        curl.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/x-www-form-urlencoded");
        using (var first = await client.PostAsync("/ingest", curl))
        {
            Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        }

        using (var more = await client.PostAsync("/ingest", Senders.Body(["ERROR card declined for order 43", "{\"order\": 44"])))
        {
            Assert.Equal(HttpStatusCode.Accepted, more.StatusCode);
        }

        await TestWait.UntilAsync(async () => await RunEndToEndTests.PipelineValue(client, "write:sqlite", "sent") >= 3, TimeSpan.FromSeconds(30), "three records stored");

        var found = await QueryAsync(dir, store, "payment");
        var e = Assert.Single(found);
        Assert.Equal("payment failed for order 42", e.GetProperty("body").GetString());
        Assert.Equal(JsonValueKind.Null, e.GetProperty("timestamp").ValueKind);
        Assert.Equal(JsonValueKind.Null, e.GetProperty("severity_text").ValueKind);

        var error = Assert.Single(await QueryAsync(dir, store, "declined"));
        Assert.Equal("ERROR", error.GetProperty("severity_text").GetString());
        Assert.Equal(17, error.GetProperty("severity_number").GetInt32());

        var dead = Assert.Single(await QueryAsync(dir, store, "order", "--dead-letters"));
        Assert.StartsWith("json: invalid JSON", dead.GetProperty("reason").GetString(), StringComparison.Ordinal);

        Assert.Equal(0, await p.TerminateAsync(TimeSpan.FromSeconds(30)));
        // sent = stored + dead-lettered + dropped: 3 lines in, 2 events and 1 dead letter out, nothing dropped.
        Assert.Equal(3, p.Report("admitted"));
        Assert.Equal((2L, 1L), await Senders.CountAsync(Path.Combine(dir, "x.db")));
    }

    /// <summary>Runs <c>conveyor query EXPR --json</c> against the store the service holds, and reads its JSON lines.</summary>
    private static async Task<List<JsonElement>> QueryAsync(string dir, string store, string expression, params string[] extra)
    {
        await using var q = ConveyorProcess.Start(dir, ["query", expression, "--store", store, "--json", .. extra]);
        Assert.Equal(0, await q.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        return [.. q.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.Clone())];
    }
}
