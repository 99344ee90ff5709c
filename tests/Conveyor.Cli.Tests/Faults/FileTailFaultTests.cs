using System.Text.Json;
using Conveyor.Cli.Tests.Service;

namespace Conveyor.Cli.Tests.Faults;

/// <summary>Findings 1–3: the file tail follows files, not names; reads only logs; says where it resumes.</summary>
public sealed class FileTailFaultTests
{
    [Fact]
    public async Task Run_RotationByRenameToANameTheGlobMatches_StoresEachLineOnce()
    {
        var dir = ConveyorProcess.TempDirectory();
        var logs = Directory.CreateDirectory(Path.Combine(dir, "logs")).FullName;
        var access = Path.Combine(logs, "access.log");
        await File.WriteAllLinesAsync(access, Enumerable.Range(0, 200).Select(i => Senders.AccessLine("before", i)));
        await using var service = await FaultService.StartAsync(FileSource(Path.Combine(logs, "access*.log")), directory: dir);
        await TestWait.UntilAsync(async () => await service.StageAsync("source:file", "received") == 200, TimeSpan.FromSeconds(30), "the first 200 lines");

        // nginx: mv access.log access-2.log, keep writing to the renamed file, then reopen access.log.
        File.Move(access, Path.Combine(logs, "access-2.log"));
        await File.AppendAllLinesAsync(Path.Combine(logs, "access-2.log"), Enumerable.Range(200, 50).Select(i => Senders.AccessLine("before", i)));
        await File.WriteAllLinesAsync(access, Enumerable.Range(0, 100).Select(i => Senders.AccessLine("after", i)));
        await TestWait.UntilAsync(async () => await service.StageAsync("source:file", "received") >= 350, TimeSpan.FromSeconds(30), "all 350 lines");

        // One more file after the rename proves later polls ran (and re-read nothing).
        await File.WriteAllLinesAsync(Path.Combine(logs, "access-3.log"), ["marker line"]);
        await TestWait.UntilAsync(async () => await service.StageAsync("source:file", "received") >= 351, TimeSpan.FromSeconds(30), "the marker");
        Assert.Equal(0, await service.Process.TerminateAsync(TimeSpan.FromSeconds(60)));

        // The counts first: followed by path, the renamed file is read again from its start (200 duplicates), and the
        // test must fail on that, not on a missing log line.
        Assert.Equal(351, service.Process.Report("admitted"));
        var (events, dead) = await Senders.CountAsync(service.Db);
        Assert.Equal(351, events + dead);
        Assert.Contains("was renamed to " + Path.Combine(logs, "access-2.log"), service.Process.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_GlobOverALinkIntoProcAndAFifo_FinishesEachPollWithoutReReading()
    {
        var dir = ConveyorProcess.TempDirectory();
        var logs = Directory.CreateDirectory(Path.Combine(dir, "etc")).FullName;
        File.CreateSymbolicLink(Path.Combine(logs, "mtab"), "/proc/self/mounts");
        Assert.Equal(0, Mono.Unix.Native.Syscall.mkfifo(Path.Combine(logs, "initctl"), Mono.Unix.Native.FilePermissions.DEFFILEMODE));
        await File.WriteAllLinesAsync(Path.Combine(logs, "hosts"), ["127.0.0.1 localhost", "::1 localhost"]);
        await using var service = await FaultService.StartAsync(FileSource(Path.Combine(logs, "*")), directory: dir);
        await TestWait.UntilAsync(async () => await service.StageAsync("source:file", "received") == 2, TimeSpan.FromSeconds(30), "the two lines of hosts");

        // Files written later are read by later polls: by then the FIFO and the link were passed over many times.
        for (var i = 0; i < 3; i++)
        {
            await File.WriteAllLinesAsync(Path.Combine(logs, $"later{i}"), ["later " + i]);
            await TestWait.UntilAsync(async () => await service.StageAsync("source:file", "received") == 3 + i, TimeSpan.FromSeconds(30), "later file " + i);
        }

        Assert.Equal(0, await service.Process.TerminateAsync(TimeSpan.FromSeconds(60)));
        var skips = service.Process.Stderr.Split('\n').Where(static l => l.Contains("skipping", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, skips.Count);
        Assert.Contains(skips, l => l.Contains("mtab: a link out of", StringComparison.Ordinal));
        Assert.Contains(skips, l => l.Contains("initctl: not a regular file", StringComparison.Ordinal));
        Assert.Equal(5, service.Process.Report("admitted"));
        var (events, dead) = await Senders.CountAsync(service.Db);
        Assert.Equal(5, events + dead);
    }

    [Fact]
    public async Task Run_SecondRunOnTheSameCheckpoint_SaysWhereItResumes_AndCheckpointIgnoreStartsOver()
    {
        var dir = ConveyorProcess.TempDirectory();
        var logs = Directory.CreateDirectory(Path.Combine(dir, "logs")).FullName;
        var log = Path.Combine(logs, "app.log");
        await File.WriteAllLinesAsync(log, Enumerable.Range(0, 100).Select(i => Senders.AccessLine("app", i)));
        var size = new FileInfo(log).Length;
        await using (var first = await FaultService.StartAsync(FileSource(Path.Combine(logs, "*.log")), directory: dir))
        {
            await TestWait.UntilAsync(async () => await first.StageAsync("source:file", "received") == 100, TimeSpan.FromSeconds(30), "100 lines");
            Assert.Equal(0, await first.Process.TerminateAsync(TimeSpan.FromSeconds(60)));
        }

        // An ad-hoc run to another store: it says it skips what the first run read, instead of silently storing nothing.
        await using (var second = await FaultService.StartAsync(FileSource(Path.Combine(logs, "*.log")), sink: "sqlite:" + Path.Combine(dir, "second.db"), directory: dir))
        {
            await second.Process.WaitForLogAsync($"resuming {log} at byte {size}, checkpoint from ", TimeSpan.FromSeconds(30));
            Assert.Equal(0, await second.Process.TerminateAsync(TimeSpan.FromSeconds(60)));
            Assert.Equal(0, second.Process.Report("admitted"));
        }

        // checkpoint=ignore: every line again, with the same ids.
        await using var third = await FaultService.StartAsync(FileSource(Path.Combine(logs, "*.log"), "\"checkpoint\": \"ignore\""), sink: "sqlite:" + Path.Combine(dir, "third.db"), directory: dir);
        await TestWait.UntilAsync(async () => await third.StageAsync("source:file", "received") == 100, TimeSpan.FromSeconds(30), "100 lines again");
        Assert.Equal(0, await third.Process.TerminateAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("ignoring the checkpoint", third.Process.Stderr, StringComparison.Ordinal);
        Assert.Equal(100, (await Senders.CountAsync(Path.Combine(dir, "third.db"))).Events);
    }

    private static string FileSource(string glob, string extra = "") =>
        $$"""{ "type": "file", "path": {{JsonSerializer.Serialize(glob)}}, "pollInterval": "00:00:00.050" {{(extra.Length > 0 ? ", " + extra : string.Empty)}} }""";
}
