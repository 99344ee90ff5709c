using System.Net.Sockets;
using System.Text;

namespace Conveyor.Cli.Tests.Service;

/// <summary>
/// conveyor reads its configuration once, so it watches no file: a host's default appsettings.json watcher is
/// recursive over the working directory, and there it woke a thread for every write the NDJSON sink made to its
/// output beside it (~1 % of conveyor's CPU in the issue 11 harness, plus the kernel's events).
/// </summary>
public sealed class FileWatchTests
{
    private static readonly TimeSpan Startup = TimeSpan.FromSeconds(60);

    public static TheoryData<string> Hosts => new()
    {
        "tcp",      // the generic host
        "http+otlp", // the web host, and a Kestrel source's host of its own
    };

    [Theory]
    [MemberData(nameof(Hosts))]
    public async Task Run_WritingUnderItsWorkingDirectory_WatchesNoFile(string host)
    {
        var dir = ConveyorProcess.TempDirectory();
        var tcp = ConveyorProcess.FreePort();
        var output = Path.Combine(dir, "out.ndjson");
        List<string> args = ["run", "--from", $"tcp://127.0.0.1:{tcp}", "--to", "ndjson:" + output];
        if (host == "http+otlp")
        {
            args.AddRange(["--from", $"http://127.0.0.1:{ConveyorProcess.FreePort()}", "--from", $"otlp://127.0.0.1:{ConveyorProcess.FreePort()}"]);
        }

        await using var p = ConveyorProcess.Start(dir, args);
        await p.WaitForLogAsync("Pipeline started", Startup);
        using (var client = new TcpClient())
        {
            await client.ConnectAsync("127.0.0.1", tcp);
            await client.GetStream().WriteAsync(Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(0, 100).Select(static i => $"line {i}\n"))));
        }

        await TestWait.UntilAsync(() => File.Exists(output) && File.ReadLines(output).Count() == 100, TimeSpan.FromSeconds(30), "the lines written beside the process");

        // Every descriptor the process holds, by what it is: an inotify instance reads as anon_inode:inotify.
        var watchers = new DirectoryInfo($"/proc/{p.Id}/fd").EnumerateFiles()
            .Select(static fd => fd.LinkTarget)
            .Where(static target => target is not null && target.Contains("inotify", StringComparison.Ordinal))
            .ToList();
        Assert.Empty(watchers);
        Assert.Equal(0, await p.TerminateAsync(TimeSpan.FromSeconds(30)));
    }
}
