using System.Buffers.Binary;
using Conveyor.Durable;
using CsCheck;

namespace Conveyor.Tests.Durable;

/// <summary>
/// Damaged segment files (random bytes flipped, a file cut at a random byte): the buffer opens, reports each damaged
/// region with its segment and offset, moves the bytes aside, replays every record that was not touched, in order,
/// and does not report the same damage again on the next open.
/// </summary>
public sealed class DiskBufferCorruptionTests : DiskBufferFixture
{
    private static readonly long Iterations = long.TryParse(Environment.GetEnvironmentVariable("CONVEYOR_MODEL_ITERATIONS"), out var n) ? n : 30;

    private sealed record Placed(string File, int Offset, int Size, long Id);

    [Fact]
    public async Task DamagedSegments_OpenReportsTheDamageAndLosesNothingElse()
    {
        var damage = Gen.Select(Gen.Int[0, 1_000_000], Gen.Int[0, int.MaxValue], Gen.Int[1, 255]).Array[1, 6];
        var cut = Gen.Select(Gen.Bool, Gen.Int[0, 1_000_000], Gen.Int[0, int.MaxValue]);
        var run = 0;
        await Gen.Select(damage, cut).SampleAsync(
            async (flips, truncate) =>
            {
                var directory = Path.Combine(Root, (run++).ToString(System.Globalization.CultureInfo.InvariantCulture));
                await RunAsync(directory, flips, truncate);
                Directory.Delete(directory, recursive: true);
            },
            iter: Iterations,
            threads: 1);
    }

    private static async Task RunAsync(string directory, (int File, int Position, int Xor)[] flips, (bool Do, int File, int Position) truncate)
    {
        var options = new DiskBufferOptions { Directory = directory, SegmentBytes = 64 << 10, MaxDiskBytes = 64L << 20 };
        await using (var b = DiskBuffer.Open(options))
        {
            for (var i = 0; i < 300; i++)
            {
                Assert.True(await b.WriteAsync(Record(i, 50 + (i * 37 % 1500))));
            }
        }

        var files = Directory.GetFiles(directory, "*.seg").Order().ToArray();
        var placed = files.SelectMany(Place).ToList();
        var lost = new HashSet<long>();
        foreach (var (file, position, xor) in flips)
        {
            var path = files[file % files.Length];
            var bytes = File.ReadAllBytes(path);
            var at = position % bytes.Length;
            bytes[at] ^= (byte)xor;
            File.WriteAllBytes(path, bytes);
            lost.UnionWith(placed.Where(p => p.File == path && p.Offset <= at && at < p.Offset + p.Size).Select(p => p.Id));
        }

        if (truncate.Do)
        {
            var path = files[truncate.File % files.Length];
            var length = new FileInfo(path).Length;
            var at = truncate.Position % length;
            using (var file = new FileStream(path, FileMode.Open, FileAccess.Write))
            {
                file.SetLength(at);
            }

            lost.UnionWith(placed.Where(p => p.File == path && p.Offset + p.Size > at).Select(p => p.Id));
        }

        var expected = placed.Select(p => p.Id).Where(id => !lost.Contains(id)).ToList();
        await using (var b = DiskBuffer.Open(options))
        {
            var report = b.Recovery;
            Assert.Equal(expected.Count, report.Replayed);
            Assert.Equal(lost.Count > 0, report.Corrupt.Count > 0);
            foreach (var region in report.Corrupt)
            {
                Assert.Contains(files, f => Path.GetFileName(f) == region.Segment);
                Assert.Equal(region.Length, new FileInfo(region.SavedAs!).Length);
            }

            Assert.Equal(expected, ReadAvailable(b).Select(r => IdOf(r.Payload)));
            Assert.Equal(report.Corrupt.Count, b.GetDiskStatistics().CorruptRegions);
        }

        // The damage was cut out: the next open finds a clean buffer with the same records.
        Assert.True(DiskBuffer.Inspect(directory).IsHealthy);
        await using (var b = DiskBuffer.Open(options))
        {
            Assert.Empty(b.Recovery.Corrupt);
            Assert.Equal(expected, ReadAvailable(b).Select(r => IdOf(r.Payload)));
        }
    }

    private static IEnumerable<Placed> Place(string path)
    {
        using var scan = SegmentScanner.ReadAndScan(path);
        Assert.Empty(scan.Damaged);
        return scan.Records.Select(r => new Placed(path, r.Offset, r.Size, BinaryPrimitives.ReadInt64LittleEndian(scan.Bytes.Slice(r.Offset + RecordFormat.HeaderSize, 8)))).ToList();
    }

    [Fact]
    public async Task Inspect_DamagedBuffer_ReportsWithoutChangingIt()
    {
        var options = Options();
        await using (var b = DiskBuffer.Open(options))
        {
            for (var i = 0; i < 10; i++)
            {
                await b.WriteAsync(Record(i, 100));
            }
        }

        var path = SegmentFiles().Single();
        var bytes = File.ReadAllBytes(path);
        bytes[300] ^= 0xFF;
        File.WriteAllBytes(path, bytes);

        var inspection = DiskBuffer.Inspect(Root);
        Assert.False(inspection.IsHealthy);
        var region = Assert.Single(inspection.Corrupt);
        Assert.Equal(Path.GetFileName(path), region.Segment);
        Assert.Equal(2 * 120, region.Offset);
        Assert.Equal(120, region.Length);
        Assert.Equal(9, inspection.Unacknowledged);
        Assert.Equal(bytes, File.ReadAllBytes(path));
    }
}
