using Conveyor.Durable;
using Microsoft.Extensions.Time.Testing;

namespace Conveyor.Tests.Durable;

public sealed class DiskBufferContractTests : DiskBufferFixture
{
    [Theory]
    [InlineData(FsyncPolicy.Always)]
    [InlineData(FsyncPolicy.Interval)]
    [InlineData(FsyncPolicy.Never)]
    public async Task WriteAsync_ManySegments_ReadsBackInOrder(FsyncPolicy policy)
    {
        await using var b = Open(o => o.Fsync = policy);
        for (var i = 0; i < 300; i++)
        {
            Assert.True(await b.WriteAsync(Record(i, 1000)));
        }

        Assert.True(b.GetDiskStatistics().Segments > 3);
        var read = ReadAvailable(b);
        Assert.Equal(Enumerable.Range(0, 300).Select(i => (long)i), read.Select(r => IdOf(r.Payload)));
        Assert.Equal(read.Select(r => r.Sequence).Order(), read.Select(r => r.Sequence));
        var s = b.GetStatistics();
        Assert.Equal(300, s.Written);
        Assert.Equal(300, s.Read);
        Assert.Equal(0, s.Depth);
    }

    [Fact]
    public async Task Acknowledge_OutOfOrder_DeletesASegmentOnlyOnceAllItsRecordsAreDone()
    {
        await using var b = Open();
        for (var i = 0; i < 200; i++)
        {
            await b.WriteAsync(Record(i, 1000));
        }

        var read = ReadAvailable(b);
        var before = SegmentFiles().Length;

        // Acknowledge everything but the very first record, newest first: nothing may be deleted while it is pending.
        foreach (var r in read.Skip(1).Reverse())
        {
            Assert.True(b.Acknowledge(r.Sequence));
        }

        Assert.Equal(before, SegmentFiles().Length);
        Assert.False(b.Acknowledge(read[1].Sequence));

        read[0].Acknowledgement.Complete(DeliveryOutcome.Delivered);
        Assert.Single(SegmentFiles());
        var d = b.GetDiskStatistics();
        Assert.Equal(0, d.InFlight);
        Assert.Equal(0, d.Unacknowledged);
        Assert.Equal(200, d.Acknowledged);
    }

    [Fact]
    public async Task Acknowledge_NotRead_ReturnsFalseAndKeepsTheRecord()
    {
        await using var b = Open();
        await b.WriteAsync(Record(1));
        Assert.False(b.Acknowledge(0));
        Assert.True(b.TryRead(out var r));
        Assert.Equal(1, IdOf(r.Payload));
    }

    [Fact]
    public async Task Reopen_AfterDispose_ReplaysExactlyTheUnacknowledgedInOrder()
    {
        var b = Open();
        for (var i = 0; i < 150; i++)
        {
            await b.WriteAsync(Record(i, 1000));
        }

        var read = ReadAvailable(b, 100);
        foreach (var r in read.Where(r => IdOf(r.Payload) % 3 != 0))
        {
            b.Acknowledge(r.Sequence);
        }

        await b.DisposeAsync();

        await using var again = Open();
        var expected = Enumerable.Range(0, 150).Where(i => i >= 100 || i % 3 == 0).Select(i => (long)i).ToList();
        Assert.Equal(expected.Count, again.Recovery.Replayed);
        Assert.Empty(again.Recovery.Corrupt);
        Assert.Equal(expected, ReadAvailable(again).Select(r => IdOf(r.Payload)));
        Assert.True(await again.WriteAsync(Record(999)));
        Assert.Equal(999, IdOf(ReadAvailable(again).Single().Payload));
    }

    [Fact]
    public async Task Abandon_WithoutDispose_LosesNoCompletedWrite()
    {
        var b = Open(o => o.Fsync = FsyncPolicy.Never);
        for (var i = 0; i < 50; i++)
        {
            await b.WriteAsync(Record(i, 500));
        }

        b.Abandon();
        await using var again = Open();
        Assert.Equal(Enumerable.Range(0, 50).Select(i => (long)i), ReadAvailable(again).Select(r => IdOf(r.Payload)));
    }

    [Fact]
    public async Task WriteAsync_FullUnderBlock_WaitsUntilAnAcknowledgementFreesRoom()
    {
        await using var b = Open(o => o.MaxRecords = 4);
        for (var i = 0; i < 4; i++)
        {
            Assert.True(await b.WriteAsync(Record(i)));
        }

        var pending = b.WriteAsync(Record(99)).AsTask();
        await TestWait.UntilAsync(() => b.GetStatistics().BlockedWriters == 1, "the writer is blocked");
        Assert.True(b.TryRead(out var first));
        Assert.False(pending.IsCompleted);

        first.Acknowledgement.Complete(DeliveryOutcome.Delivered);
        Assert.True(await TestWait.Within(pending));
        Assert.Equal([1L, 2, 3, 99], ReadAvailable(b).Select(r => IdOf(r.Payload)));
    }

    [Fact]
    public async Task WriteAsync_BlockTimeout_GivesUpAndCounts()
    {
        var clock = new FakeTimeProvider();
        var dropped = new List<long>();
        await using var b = Open(o =>
        {
            o.MaxRecords = 1;
            o.BlockTimeout = TimeSpan.FromSeconds(1);
            o.TimeProvider = clock;
            o.OnDropped = (r, reason) =>
            {
                Assert.Equal(DropReason.BlockTimeout, reason);
                lock (dropped)
                {
                    dropped.Add(IdOf(r));
                }
            };
        });
        Assert.True(await b.WriteAsync(Record(1)));
        var pending = b.WriteAsync(Record(2)).AsTask();
        await TestWait.UntilAsync(() => b.GetStatistics().BlockedWriters == 1, "the writer is blocked");
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.False(await TestWait.Within(pending));
        Assert.Equal(1, b.GetStatistics().BlockTimedOut);
        Assert.Equal([2L], dropped);
    }

    [Fact]
    public async Task WriteAsync_CanceledWhileBlocked_ThrowsAndWritesNothing()
    {
        await using var b = Open(o => o.MaxRecords = 1);
        await b.WriteAsync(Record(1));
        using var cts = new CancellationTokenSource();
        var pending = b.WriteAsync(Record(2), cts.Token).AsTask();
        await TestWait.UntilAsync(() => b.GetStatistics().BlockedWriters == 1, "the writer is blocked");
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => TestWait.Within(pending));
        Assert.Equal([1L], ReadAvailable(b).Select(r => IdOf(r.Payload)));
        Assert.Equal(0, b.GetStatistics().Dropped);
    }

    [Theory]
    [InlineData(FullMode.DropNewest, DropReason.DropNewest)]
    [InlineData(FullMode.Reject, DropReason.Rejected)]
    public async Task WriteAsync_FullUnderDroppingModes_RefusesTheNewRecordAndCounts(FullMode mode, DropReason reason)
    {
        var dropped = new List<(long, DropReason)>();
        await using var b = Open(o =>
        {
            o.MaxRecords = 2;
            o.FullMode = mode;
            o.OnDropped = (r, why) => dropped.Add((IdOf(r), why));
        });
        Assert.True(await b.WriteAsync(Record(1)));
        Assert.True(await b.WriteAsync(Record(2)));
        Assert.False(await b.WriteAsync(Record(3)));
        Assert.Equal([(3L, reason)], dropped);
        var s = b.GetStatistics();
        Assert.Equal(1, s.DroppedBy(reason));
        Assert.Equal(2, s.Written);
        Assert.Equal([1L, 2], ReadAvailable(b).Select(r => IdOf(r.Payload)));
    }

    [Fact]
    public async Task WriteAsync_FullUnderDropOldest_EvictsTheOldestUnreadAndCounts()
    {
        var dropped = new List<long>();
        await using var b = Open(o =>
        {
            o.MaxRecords = 3;
            o.FullMode = FullMode.DropOldest;
            o.OnDropped = (r, why) =>
            {
                Assert.Equal(DropReason.DropOldest, why);
                dropped.Add(IdOf(r));
            };
        });
        for (var i = 1; i <= 3; i++)
        {
            await b.WriteAsync(Record(i));
        }

        Assert.True(b.TryRead(out var inFlight));
        Assert.True(await b.WriteAsync(Record(4)));
        Assert.Equal([2L, 3], dropped);
        var s = b.GetStatistics();
        Assert.Equal(2, s.DroppedOldest);
        Assert.Equal(s.Written, s.Read + s.Depth + s.DroppedOldest);
        Assert.Equal([4L], ReadAvailable(b).Select(r => IdOf(r.Payload)));
        Assert.Equal(1, IdOf(inFlight.Payload));
    }

    [Fact]
    public async Task WriteAsync_RecordLargerThanASegment_IsRefusedAsTooLarge()
    {
        await using var b = Open();
        Assert.False(await b.WriteAsync(new byte[(64 << 10) + 1]));
        Assert.Equal(1, b.GetStatistics().TooLarge);
        Assert.True(await b.WriteAsync(Record(1, (64 << 10) - 20)));
    }

    [Fact]
    public async Task WriteAllAsync_Batch_IsAllOrNothingAndInOrder()
    {
        await using var b = Open(o => o.MaxRecords = 5);
        Assert.True(await b.WriteAllAsync([Record(1), Record(2), Record(3)]));
        Assert.False(await b.WriteAllAsync([Record(4), Record(5), Record(6), Record(7), Record(8), Record(9)]));
        Assert.Equal(6, b.GetStatistics().TooLarge);
        Assert.Equal([1L, 2, 3], ReadAvailable(b).Select(r => IdOf(r.Payload)));
    }

    [Fact]
    public async Task ReadBatchAsync_MaxBytes_StopsBeforeTheRecordThatDoesNotFit()
    {
        await using var b = Open();
        for (var i = 0; i < 5; i++)
        {
            await b.WriteAsync(Record(i, 100));
        }

        var batch = new List<DiskRecord>();
        Assert.Equal(2, await b.ReadBatchAsync(batch, 10, 250, TimeSpan.Zero));
        Assert.Equal(3, await b.ReadBatchAsync(batch, 10, 1000, TimeSpan.FromMilliseconds(5)));
        Assert.Equal([0L, 1, 2, 3, 4], batch.Select(r => IdOf(r.Payload)));
    }

    [Fact]
    public async Task ReadBatchAsync_WaitsForTheFirstRecord()
    {
        await using var b = Open();
        var pending = b.ReadBatchAsync(10, TimeSpan.Zero).AsTask();
        await TestWait.UntilAsync(() => b.GetStatistics().WaitingReaders == 1, "the reader waits");
        await b.WriteAsync(Record(7));
        Assert.Equal(7, IdOf((await TestWait.Within(pending)).Single().Payload));
    }

    [Fact]
    public async Task Complete_DrainsThenCompletesAndRefusesWrites()
    {
        await using var b = Open();
        await b.WriteAsync(Record(1));
        Assert.True(b.Complete());
        Assert.False(b.Complete());
        await Assert.ThrowsAsync<BufferCompletedException>(() => b.WriteAsync(Record(2)).AsTask());
        Assert.False(b.Completion.IsCompleted);
        var batch = await b.ReadBatchAsync(10, TimeSpan.Zero);
        Assert.Equal(1, IdOf(batch.Single().Payload));
        await TestWait.Within(b.Completion);
        Assert.Empty(await b.ReadBatchAsync(10, TimeSpan.Zero));
    }

    [Fact]
    public async Task Open_SecondInstanceOnTheSameDirectory_FailsNamingThePath()
    {
        await using var b = Open();
        var error = Assert.Throws<IOException>(() => Open());
        Assert.Contains(Root, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_PathUnderAFile_FailsNamingThePathAndTheReason()
    {
        var file = Path.Combine(Root, "not-a-directory");
        File.WriteAllText(file, "x");
        var error = Assert.Throws<IOException>(() => DiskBuffer.Open(new DiskBufferOptions { Directory = Path.Combine(file, "buffer") }));
        Assert.Contains(file, error.Message, StringComparison.Ordinal);
        Assert.Contains(":", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(nameof(DiskBufferOptions.Directory))]
    [InlineData(nameof(DiskBufferOptions.MaxDiskBytes))]
    [InlineData(nameof(DiskBufferOptions.SegmentBytes))]
    [InlineData(nameof(DiskBufferOptions.FsyncInterval))]
    public void Validate_BadSetting_NamesIt(string setting)
    {
        var options = new DiskBufferOptions { Directory = Root };
        switch (setting)
        {
            case nameof(DiskBufferOptions.Directory): options.Directory = " "; break;
            case nameof(DiskBufferOptions.MaxDiskBytes): options.MaxDiskBytes = 10; break;
            case nameof(DiskBufferOptions.SegmentBytes): options.SegmentBytes = 10; break;
            default: options.FsyncInterval = TimeSpan.Zero; break;
        }

        var error = Assert.Throws<ArgumentException>(options.Validate);
        Assert.Equal(setting, error.ParamName);
    }

    [Fact]
    public void Checksum_IsCrc32C()
    {
        // The check value of CRC-32C (Castagnoli) for "123456789".
        Assert.Equal(0xE3069283u, ~Crc32C.Update(uint.MaxValue, "123456789"u8));
    }
}
