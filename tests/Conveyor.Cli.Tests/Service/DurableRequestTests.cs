using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace Conveyor.Cli.Tests.Service;

/// <summary>
/// <c>conveyor run --buffer disk:DIR</c> with the OTLP and Elasticsearch bulk receivers: their success answer means
/// on disk, as <c>/ingest</c>'s 202 does, so records answered with success survive a SIGKILL before any sink stored them.
/// </summary>
public sealed class DurableRequestTests
{
    private const int PerRequest = 50;

    [Fact]
    public async Task Run_DiskBufferKilledBeforeAnySinkStored_EveryRecordAnsweredWithSuccessIsStoredOnce()
    {
        var dir = ConveyorProcess.TempDirectory();
        int otlp = ConveyorProcess.FreePort(), es = ConveyorProcess.FreePort(), http = ConveyorProcess.FreePort();
        string[] sources = ["--from", $"otlp://127.0.0.1:{otlp}", "--from", $"elasticsearch://127.0.0.1:{es}", "--from", $"http://127.0.0.1:{http}", "--buffer", "disk:buf"];
        using var client = new HttpClient();

        // First life: a sink that takes an hour per batch, so nothing is stored before the kill; only the disk holds the records.
        await using (var first = ConveyorProcess.Start(dir, ["run", .. sources, "--to", "slow:1h+sqlite:logs.db"]))
        {
            await first.WaitForLogAsync("Pipeline started", TimeSpan.FromSeconds(60));
            await first.WaitForListeningAsync(TimeSpan.FromSeconds(30), otlp, es, http);
            for (var r = 0; r < 2; r++)
            {
                using var otlpBody = new StringContent(OtlpRequest(r), Encoding.UTF8, new MediaTypeHeaderValue("application/json"));
                using (var answer = await client.PostAsync(new Uri($"http://127.0.0.1:{otlp}/v1/logs"), otlpBody))
                {
                    Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
                }

                using var bulkBody = new StringContent(BulkRequest(r), Encoding.UTF8, new MediaTypeHeaderValue("application/x-ndjson"));
                using (var answer = await client.PostAsync(new Uri($"http://127.0.0.1:{es}/_bulk"), bulkBody))
                {
                    Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
                    Assert.Contains("\"errors\":false", await answer.Content.ReadAsStringAsync(), StringComparison.Ordinal);
                }
            }

            first.Kill();
            await first.WaitForExitAsync(TimeSpan.FromSeconds(30));
        }

        Assert.Equal((0L, 0L), await Senders.CountAsync(Path.Combine(dir, "logs.db")));

        // Second life, over the same disk buffer: every record comes back from disk and is stored, each once.
        await using var second = ConveyorProcess.Start(dir, ["run", .. sources, "--to", "sqlite:logs.db"]);
        await second.WaitForLogAsync("Pipeline started", TimeSpan.FromSeconds(60));
        await second.WaitForListeningAsync(TimeSpan.FromSeconds(30), otlp, es, http);
        using var api = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{http}") };
        await TestWait.UntilAsync(async () => await RunEndToEndTests.PipelineValue(api, "write:sqlite", "sent") >= 4 * PerRequest, TimeSpan.FromSeconds(30), "the replayed records stored");
        Assert.Equal(0, await second.TerminateAsync(TimeSpan.FromSeconds(60)));
        Assert.Equal((4L * PerRequest, 0L), await Senders.CountAsync(Path.Combine(dir, "logs.db")));
    }

    private static string OtlpRequest(int r) =>
        "{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":["
        + string.Join(",", Enumerable.Range(0, PerRequest).Select(i => $"{{\"body\":{{\"stringValue\":\"otlp {r}-{i}\"}}}}"))
        + "]}]}]}";

    private static string BulkRequest(int r) =>
        string.Concat(Enumerable.Range(0, PerRequest).Select(i => $"{{\"create\":{{\"_index\":\"logs\"}}}}\n{{\"message\":\"bulk {r}-{i}\"}}\n"));
}
