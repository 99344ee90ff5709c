using System.Diagnostics;
using Conveyor.Durable;

namespace Conveyor.Tests.Durable;

/// <summary>
/// The buffer on a 4 MiB tmpfs, written well past what fits: writers are held back while the disk refuses writes,
/// nothing written is lost, and writing resumes by itself once acknowledged segments are deleted. Mounting needs root
/// (as the test machines run); the mount is removed afterwards.
/// </summary>
public sealed class DiskFullTests : DiskBufferFixture
{
    private readonly string _mount;

    public DiskFullTests()
    {
        _mount = Path.Combine(Root, "tmpfs");
        Directory.CreateDirectory(_mount);
        Run("mount", $"-t tmpfs -o size=4m tmpfs {_mount}");
    }

    [Fact]
    public async Task DiskFull_WritersWaitAndResumeWhenSpaceReturns_NothingLost()
    {
        const int total = 8000;
        var seen = new int[total];
        await using var b = DiskBuffer.Open(new DiskBufferOptions
        {
            Directory = Path.Combine(_mount, "buffer"),
            SegmentBytes = 256 << 10,
            MaxDiskBytes = 64L << 20,
        });

        var writing = Enumerable.Range(0, 2).Select(w => Task.Run(async () =>
        {
            for (var i = w * (total / 2); i < (w + 1) * (total / 2); i += 10)
            {
                Assert.True(await b.WriteAllAsync([.. Enumerable.Range(i, 10).Select(id => (ReadOnlyMemory<byte>)Record(id, 1000))]));
            }
        })).ToArray();

        await TestWait.UntilAsync(() => b.GetDiskStatistics().IsDiskFaulted, "the disk is full");
        Assert.Contains("space", b.GetDiskStatistics().DiskError, StringComparison.OrdinalIgnoreCase);
        Assert.False(Task.WhenAll(writing).IsCompleted);

        var reading = Task.Run(async () =>
        {
            var batch = new List<DiskRecord>();
            while (true)
            {
                batch.Clear();
                if (await b.ReadBatchAsync(batch, 100, long.MaxValue, TimeSpan.Zero) == 0)
                {
                    return;
                }

                foreach (var record in batch)
                {
                    seen[IdOf(record.Payload)]++;
                    record.Acknowledgement.Complete(DeliveryOutcome.Delivered);
                }
            }
        });

        await TestWait.Within(Task.WhenAll(writing), TimeSpan.FromMinutes(2));
        b.Complete();
        await TestWait.Within(reading, TimeSpan.FromMinutes(1));
        Assert.All(seen, count => Assert.Equal(1, count));
        var s = b.GetDiskStatistics();
        Assert.False(s.IsDiskFaulted);
        Assert.Equal(0, s.Buffer.Dropped);
        Assert.Equal(total, s.Acknowledged);
    }

    protected override void Dispose(bool disposing)
    {
        Run("umount", _mount);
        base.Dispose(disposing);
    }

    private static void Run(string command, string arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(command, arguments) { RedirectStandardError = true })!;
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{command} {arguments} failed ({process.ExitCode}): {error} (the disk-full test mounts a tmpfs and needs root)");
    }
}
