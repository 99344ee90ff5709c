using System.Text;
using Conveyor.Logs.Query;

namespace Conveyor.Cli.Tests.Service;

/// <summary>
/// Issue 12's "done when", as written: <c>conveyor run --from http:// --to duckdb: --buffer disk:DIR</c> under 4
/// concurrent HTTP senders, killed with SIGKILL 5 times and restarted over the same buffer and store. Every line of
/// every 202 is stored exactly once; a line whose request got no 202 (the kill cut it off) may be stored or not, but
/// never twice. The DuckDB store keeps one row per event id and a replayed line keeps its id. (DurableCrashLoopTests
/// is the many-kills loop against SQLite with TCP load beside it.)
/// </summary>
public sealed class DurableDuckDbCrashTests
{
    private const int Kills = 5;
    private const int Senders = 4;
    private const int LinesPerRequest = 20;

    /// <summary>Each line carries one of these words (g00g…g31g), so that reading the store back is a page per word,
    /// each under /api/search's 10,000-row limit; no paging order can then count a row twice or miss one.</summary>
    private const int Groups = 32;

    /// <summary>
    /// Lines the senders offer in one life at most, so the total fits the pages above however fast the machine (a fast
    /// one accepted over 160,000 lines in five lives of up to 1.5 s): 5 × 25,000 is ~3,900 a word.
    /// </summary>
    private const int LinesPerLife = 25_000;
    private static readonly TimeSpan Startup = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task FourHttpSenders_FiveSigkills_EveryAcceptedLineStoredExactlyOnce()
    {
        var directory = ConveyorProcess.TempDirectory();
        var http = ConveyorProcess.FreePort();
        var store = "duckdb:" + Path.Combine(directory, "logs.duckdb");
        string[] args = ["run", "--from", $"http://127.0.0.1:{http}", "--to", store, "--buffer", "disk:buf"];
        var accepted = new HashSet<string>();
        var random = new Random(13);
        var next = 0;
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        for (var life = 0; life < Kills; life++)
        {
            await using var process = ConveyorProcess.Start(directory, args);
            await process.WaitForLogAsync("Now listening", Startup);
            int before;
            lock (accepted)
            {
                before = accepted.Count;
            }

            using var stop = new CancellationTokenSource();
            var lifeEnd = Volatile.Read(ref next) + LinesPerLife;
            var senders = Enumerable.Range(0, Senders).Select(_ => Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested && Volatile.Read(ref next) < lifeEnd)
                {
                    var first = Interlocked.Add(ref next, LinesPerRequest) - LinesPerRequest;
                    var bodies = Enumerable.Range(first, LinesPerRequest).Select(i => $"duck-line-{i} g{i % Groups:D2}g").ToList();
                    try
                    {
                        using var content = new StringContent(string.Concat(bodies.Select(b => $"{{\"message\":\"{b}\"}}\n")), Encoding.UTF8, "application/x-ndjson");
                        using var response = await client.PostAsync(new Uri($"http://127.0.0.1:{http}/ingest"), content);
                        if ((int)response.StatusCode == 202)
                        {
                            lock (accepted)
                            {
                                accepted.UnionWith(bodies);
                            }
                        }
                    }
                    catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
                    {
                        // The kill cut the request off: no 202, so its lines may be stored or not (never twice).
                        return;
                    }
                }
            })).ToList();

            // Kill at a random moment once the service takes load (a life's first requests pay for the JIT).
            await TestWait.UntilAsync(() => { lock (accepted) { return accepted.Count > before; } }, Startup, "a first 202");
            await Task.Delay(random.Next(100, 1500));
            process.Kill();
            await stop.CancelAsync();
            await Task.WhenAll(senders);
            Assert.Equal(137, await process.WaitForExitAsync(Startup));
        }

        // The last life replays what the killed ones left on disk, without load, and stops cleanly.
        await using (var last = ConveyorProcess.Start(directory, args))
        {
            await last.WaitForLogAsync("Now listening", Startup);
            await TestWait.UntilAsync(async () => accepted.IsSubsetOf((await SearchAsync(new HttpLogStore(new Uri($"http://127.0.0.1:{http}"), bearerToken: null))).Keys), Startup, "every accepted line stored");
            Assert.Equal(0, await last.TerminateAsync(Startup));
        }

        // Read the DuckDB file itself now that no process holds it.
        var stored = await SearchAsync(LogStore.Open(store));
        Assert.True(accepted.Count >= Kills * LinesPerRequest, $"each life answered 202 ({accepted.Count} lines accepted)");
        var twice = stored.Where(s => s.Value > 1).Select(s => s.Key).ToList();
        var missing = accepted.Where(a => !stored.ContainsKey(a)).ToList();
        Assert.True(twice.Count == 0, $"{twice.Count} lines stored twice, e.g. {string.Join(", ", twice.Take(5))}");
        Assert.True(missing.Count == 0, $"{missing.Count} accepted lines missing, e.g. {string.Join(", ", missing.Take(5))}");
    }

    /// <summary>
    /// How many times each test line is in <paramref name="logs"/> (the running service's /api/search, or the file
    /// opened read-only once no process holds it); disposes it. A full page fails rather than under-count.
    /// </summary>
    private static async Task<Dictionary<string, int>> SearchAsync(ILogStore logs)
    {
        await using (logs)
        {
            var counts = new Dictionary<string, int>();
            for (var g = 0; g < Groups; g++)
            {
                LogQueryResult page;
                try
                {
                    page = await logs.SearchAsync(new LogQuery($"g{g:D2}g", Limit: SearchResponse.MaxLimit));
                }
                catch (HttpRequestException)
                {
                    // The listener may still be binding right after "Now listening": not yet an answer, ask again.
                    return [];
                }

                Assert.True(page.Events.Count < SearchResponse.MaxLimit, "more lines than one page holds: add groups");
                foreach (var e in page.Events.Where(e => e.Body.StartsWith("duck-line-", StringComparison.Ordinal)))
                {
                    counts[e.Body] = counts.GetValueOrDefault(e.Body) + 1;
                }
            }

            return counts;
        }
    }
}
