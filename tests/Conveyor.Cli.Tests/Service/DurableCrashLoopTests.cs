using System.Net.Sockets;
using System.Text;
using Microsoft.Data.Sqlite;

namespace Conveyor.Cli.Tests.Service;

/// <summary>
/// A real <c>conveyor run --buffer disk:DIR</c> under HTTP and TCP load, killed with SIGKILL at random moments and
/// restarted over the same buffer and store: at the end every line of every 202 is stored exactly once (the SQLite
/// store keys events by id, and a replayed line keeps its id). Kills: <c>CONVEYOR_CRASH_KILLS</c> (default 10; the
/// issue's figure is 100).
/// </summary>
public sealed class DurableCrashLoopTests
{
    /// <summary>The most TCP lines one life sends: 5,000.</summary>
    private const int TcpLinesPerLife = 5000;

    private static readonly int Kills = int.TryParse(Environment.GetEnvironmentVariable("CONVEYOR_CRASH_KILLS"), out var n) ? n : 10;

    [Fact]
    public async Task KilledAtRandom_EveryAcceptedLineIsStoredExactlyOnce()
    {
        var directory = ConveyorProcess.TempDirectory();
        var http = ConveyorProcess.FreePort();
        var tcp = ConveyorProcess.FreePort();
        string[] args = ["run", "--from", $"http://127.0.0.1:{http}", "--from", $"tcp://127.0.0.1:{tcp}", "--to", "sqlite:logs.db", "--buffer", "disk:buf"];
        var accepted = new List<string>();
        var random = new Random(12);
        var next = 0;
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        for (var kill = 0; kill <= Kills; kill++)
        {
            await using var process = ConveyorProcess.Start(directory, args);
            await process.WaitForLogAsync("Now listening", TimeSpan.FromSeconds(60));
            if (kill == Kills)
            {
                // The last life drains whatever earlier lives left on disk, then stops cleanly.
                await TestWait.UntilAsync(() => StoredCount(directory, accepted) == accepted.Count, TimeSpan.FromSeconds(60), "every accepted line is stored");
                Assert.Equal(0, await process.TerminateAsync(TimeSpan.FromSeconds(60)));
                break;
            }

            using var stop = new CancellationTokenSource();
            int before;
            lock (accepted)
            {
                before = accepted.Count;
            }

            var senders = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    var first = Interlocked.Add(ref next, 20) - 20;
                    var lines = Enumerable.Range(first, 20).Select(i => $"{{\"message\":\"crash-line-{i}\"}}").ToList();
                    try
                    {
                        using var body = new StringContent(string.Join('\n', lines) + "\n", Encoding.UTF8, "application/x-ndjson");
                        using var response = await client.PostAsync(new Uri($"http://127.0.0.1:{http}/ingest"), body);
                        if ((int)response.StatusCode == 202)
                        {
                            lock (accepted)
                            {
                                accepted.AddRange(lines.Select(l => l[12..^2]));
                            }
                        }
                    }
                    catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
                    {
                        // The kill cut the request off: its lines were not accepted (or were, without the sender knowing).
                        return;
                    }
                }
            })).ToList();
            senders.Add(Task.Run(async () =>
            {
                // TCP load beside it: its lines are not acknowledged to the sender, so they only add pressure. Bounded
                // per life: an unbounded flood left the last life a backlog that grew with the machine's speed (311,563
                // lines to replay, 31 s before the accepted lines, interleaved with them, were all stored), so the
                // final wait measured the load, not the buffer.
                try
                {
                    using var socket = new TcpClient();
                    await socket.ConnectAsync("127.0.0.1", tcp);
                    var stream = socket.GetStream();
                    for (var i = 0; i < TcpLinesPerLife && !stop.IsCancellationRequested; i += 100)
                    {
                        await stream.WriteAsync(Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(i, 100).Select(j => $"{{\"message\":\"tcp-line-{kill}-{j}\"}}\n"))));
                    }
                }
                catch (Exception ex) when (ex is IOException or SocketException)
                {
                }
            }));

            // Kill at a random moment once the service is taking load (the first requests of a life pay for the JIT).
            await TestWait.UntilAsync(() => { lock (accepted) { return accepted.Count > before; } }, TimeSpan.FromSeconds(60), "a first 202");
            await Task.Delay(random.Next(50, 1000));
            process.Kill();
            await stop.CancelAsync();
            await Task.WhenAll(senders);
        }

        Assert.NotEmpty(accepted);
        using var db = Open(directory);
        using var cmd = db.CreateCommand();
        cmd.CommandText = "SELECT body, COUNT(*) FROM events WHERE body LIKE 'crash-line-%' GROUP BY body HAVING COUNT(*) > 1";
        using (var reader = cmd.ExecuteReader())
        {
            Assert.False(reader.Read(), "a line is stored twice");
        }

        Assert.Equal(accepted.Count, StoredCount(directory, accepted));
    }

    private static long StoredCount(string directory, List<string> accepted)
    {
        if (!File.Exists(Path.Combine(directory, "logs.db")))
        {
            return 0;
        }

        HashSet<string> expected;
        lock (accepted)
        {
            expected = [.. accepted];
        }

        using var db = Open(directory);
        using var cmd = db.CreateCommand();
        cmd.CommandText = "SELECT DISTINCT body FROM events WHERE body LIKE 'crash-line-%'";
        using var reader = cmd.ExecuteReader();
        long found = 0;
        while (reader.Read())
        {
            found += expected.Contains(reader.GetString(0)) ? 1 : 0;
        }

        return found;
    }

    private static SqliteConnection Open(string directory)
    {
        var db = new SqliteConnection($"Data Source={Path.Combine(directory, "logs.db")};Mode=ReadOnly;Pooling=False");
        db.Open();
        return db;
    }
}
