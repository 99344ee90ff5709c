using Conveyor.Cli.Tests.Service;
using Conveyor.Logs.Model;
using Conveyor.Logs.Query;
using Conveyor.Logs.Sinks.Sqlite;

namespace Conveyor.Cli.Tests.Commands;

/// <summary><c>conveyor store copy</c> end to end, through the real executable.</summary>
public sealed class StoreCommandTests
{
    [Fact]
    public async Task Copy_DestinationRefusesOneEvent_DeadLettersItWithReasonAndCopiesTheRest()
    {
        var dir = ConveyorProcess.TempDirectory();
        var from = Path.Combine(dir, "from.db");
        var to = Path.Combine(dir, "to.db");
        var at = new DateTimeOffset(2026, 11, 20, 10, 0, 0, TimeSpan.Zero);

        // The source store takes events up to 4 MiB; the destination keeps its 1 MiB default, so it refuses event e3.
        await using (var source = await SqliteSink.OpenAsync(new SqliteSinkOptions { Path = from, MaxEventBytes = 4 << 20 }))
        {
            var events = Enumerable.Range(0, 2_500)
                .Select(i => new LogEvent($"e{i}", "web", i == 3 ? new string('x', 1_500_000) : $"line {i}", at.AddSeconds(i)) { Timestamp = at.AddSeconds(i) })
                .ToList();
            await source.WriteBatchAsync(events, default);
            await source.WriteDeadLettersAsync([new DeadLetter("d1", "tcp", "combined", "no request line", "garbage", at)], default);
        }

        var copy = await ConveyorProcess.RunOnceAsync(dir, "store", "copy", "--from", "sqlite:" + from, "--to", "sqlite:" + to);

        // The refused event costs itself, not the copy; the summary adds up to what was read.
        Assert.True(copy.Code == 0, copy.Stderr);
        Assert.Contains(
            "2,499 events copied, 1 dead letters copied, 1 events dead-lettered (refused by the destination), 0 failed; 2,501 read (2,500 events, 1 dead letters)",
            copy.Stderr,
            StringComparison.Ordinal);
        await using var copied = LogStore.Open("sqlite:" + to);
        Assert.Equal(2_499, await copied.CountAsync(new LogQuery(null)));
        var letters = new List<DeadLetter>();
        await foreach (var d in copied.ReadDeadLettersAsync(null, null))
        {
            letters.Add(d);
        }

        Assert.Equal(["d1", "e3"], letters.Select(static d => d.Id).Order());
        var refused = letters.Single(static d => d.Id == "e3");
        Assert.Contains("MaxEventBytes", refused.Reason, StringComparison.Ordinal);
        Assert.Equal(1_500_000, refused.RawLine.Length);
    }
}
