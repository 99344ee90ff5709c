using Microsoft.Extensions.Time.Testing;

namespace Conveyor.Tests.Buffering;

/// <summary>
/// The contract every buffer variant keeps, whatever bounds it has. Each derived class runs the whole suite
/// against one variant; items are ints whose size (for byte bounds) is the item's value, so tests choose sizes.
/// </summary>
public abstract class BufferContractTests
{
    /// <summary>Room for this many items of size 1 (each variant sets its bounds so that exactly this many fit).</summary>
    protected const int Room = 4;

    protected abstract BufferOptions<int> Options(FullMode mode);

    /// <summary>The size of item <paramref name="value"/> as the variant measures it.</summary>
    protected virtual long SizeOf(int value) => 1;

    protected BoundedBuffer<int> Create(FullMode mode = FullMode.Block, Action<BufferOptions<int>>? tweak = null)
    {
        var options = Options(mode);
        tweak?.Invoke(options);
        return new BoundedBuffer<int>(options);
    }

    [Fact]
    public void TryWrite_WithinBounds_ReadsBackInOrder()
    {
        var b = Create();
        for (var i = 1; i <= Room; i++)
        {
            Assert.True(b.Writer.TryWrite(i));
        }

        for (var i = 1; i <= Room; i++)
        {
            Assert.True(b.Reader.TryRead(out var item));
            Assert.Equal(i, item);
        }

        Assert.False(b.Reader.TryRead(out _));
        var s = b.GetStatistics();
        Assert.Equal(Room, s.Written);
        Assert.Equal(Room, s.Read);
        Assert.Equal(0, s.Depth);
        Assert.Equal(0, s.Bytes);
    }

    [Fact]
    public void TryWrite_FullUnderBlock_ReturnsFalseAndCountsNothing()
    {
        var b = Create();
        Fill(b);
        Assert.False(b.Writer.TryWrite(1));
        var s = b.GetStatistics();
        Assert.Equal(Room, s.Depth);
        Assert.Equal(0, s.Dropped);
    }

    [Fact]
    public async Task WriteAsync_FullUnderBlock_WaitsUntilAReadFreesRoom()
    {
        var b = Create();
        Fill(b);
        var pending = b.Writer.WriteAsync(99).AsTask();
        await TestWait.UntilAsync(() => b.GetStatistics().BlockedWriters == 1, "the writer is blocked");
        Assert.False(pending.IsCompleted);
        Assert.Equal(Room, b.Count);

        Assert.True(b.Reader.TryRead(out var first));
        Assert.Equal(1, first);
        Assert.True(await TestWait.Within(pending));
        Assert.Equal(Room, b.Count);
        var drained = Drain(b);
        Assert.Equal(99, drained[^1]);
    }

    [Fact]
    public async Task WriteAsync_Canceled_WhileBlocked_ThrowsAndLeavesNothing()
    {
        var b = Create();
        Fill(b);
        using var cts = new CancellationTokenSource();
        var pending = b.Writer.WriteAsync(99, cts.Token).AsTask();
        await TestWait.UntilAsync(() => b.GetStatistics().BlockedWriters == 1, "the writer is blocked");
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => TestWait.Within(pending));
        Assert.Equal(0, b.GetStatistics().BlockedWriters);
        Assert.DoesNotContain(99, Drain(b));
    }

    [Fact]
    public async Task WriteAsync_BlockTimeoutPasses_ReturnsFalseCountsAndReports()
    {
        var time = new FakeTimeProvider();
        var dropped = new List<(int, DropReason)>();
        var b = Create(FullMode.Block, o =>
        {
            o.TimeProvider = time;
            o.BlockTimeout = TimeSpan.FromSeconds(2);
            o.OnDropped = (item, reason) => dropped.Add((item, reason));
        });
        Fill(b);
        var pending = b.Writer.WriteAsync(99).AsTask();
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.False(pending.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.False(await TestWait.Within(pending));
        Assert.Equal([(99, DropReason.BlockTimeout)], dropped);
        var s = b.GetStatistics();
        Assert.Equal(1, s.BlockTimedOut);
        Assert.Equal(TimeSpan.FromSeconds(2), s.BlockedTime);
    }

    [Fact]
    public void TryWrite_FullUnderReject_RefusesCountsAndReports()
    {
        var dropped = new List<(int, DropReason)>();
        var b = Create(FullMode.Reject, o => o.OnDropped = (i, r) => dropped.Add((i, r)));
        Fill(b);
        Assert.False(b.Writer.TryWrite(50));
        Assert.Equal([(50, DropReason.Rejected)], dropped);
        Assert.Equal(1, b.GetStatistics().Rejected);
        Assert.Equal(Enumerable.Range(1, Room), Drain(b));
    }

    [Fact]
    public async Task WriteAsync_FullUnderReject_ReturnsFalseAtOnce()
    {
        var b = Create(FullMode.Reject);
        Fill(b);
        Assert.False(await TestWait.Within(b.Writer.WriteAsync(50)));
        Assert.Equal(1, b.GetStatistics().Rejected);
    }

    [Fact]
    public void TryWrite_FullUnderDropNewest_DropsTheIncomingItem()
    {
        var dropped = new List<(int, DropReason)>();
        var b = Create(FullMode.DropNewest, o => o.OnDropped = (i, r) => dropped.Add((i, r)));
        Fill(b);
        Assert.False(b.Writer.TryWrite(50));
        Assert.Equal([(50, DropReason.DropNewest)], dropped);
        Assert.Equal(Enumerable.Range(1, Room), Drain(b));
        Assert.Equal(1, b.GetStatistics().DroppedNewest);
    }

    [Fact]
    public void TryWrite_FullUnderDropOldest_EvictsTheOldest()
    {
        var dropped = new List<(int, DropReason)>();
        var b = Create(FullMode.DropOldest, o => o.OnDropped = (i, r) => dropped.Add((i, r)));
        Fill(b);
        Assert.True(b.Writer.TryWrite(50));
        Assert.Equal([(1, DropReason.DropOldest)], dropped);
        Assert.Equal([.. Enumerable.Range(2, Room - 1), 50], Drain(b));
        var s = b.GetStatistics();
        Assert.Equal(1, s.DroppedOldest);
        Assert.Equal(s.Written, s.Read + s.Depth + s.DroppedOldest);
    }

    [Fact]
    public void OnDropped_CallsBackIntoTheBuffer_WithoutDeadlock()
    {
        BoundedBuffer<int>? b = null;
        var seenCount = -1;
        b = Create(FullMode.DropNewest, o => o.OnDropped = (_, _) => seenCount = b!.Count);
        Fill(b);
        Assert.False(b.Writer.TryWrite(7));
        Assert.Equal(Room, seenCount);
    }

    [Fact]
    public async Task Complete_WithQueuedItems_ReadersDrainThenCompletionEnds()
    {
        var b = Create();
        Fill(b);
        Assert.True(b.Writer.Complete());
        Assert.False(b.Writer.Complete());
        Assert.False(b.Writer.TryWrite(9));
        await Assert.ThrowsAsync<BufferCompletedException>(() => b.Writer.WriteAsync(9).AsTask());
        Assert.False(b.Completion.IsCompleted);
        Assert.Equal(Enumerable.Range(1, Room), Drain(b));
        await TestWait.Within(b.Completion);
        Assert.False(await b.Reader.WaitToReadAsync());
        await Assert.ThrowsAsync<BufferCompletedException>(() => b.Reader.ReadAsync().AsTask());
    }

    [Fact]
    public async Task Complete_WithError_FaultsCompletionAfterDrain()
    {
        var b = Create();
        b.Writer.TryWrite(1);
        var boom = new InvalidOperationException("boom");
        b.Writer.Complete(boom);
        Assert.True(b.Reader.TryRead(out _));
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => TestWait.Within(b.Completion));
        Assert.Same(boom, error);
    }

    [Fact]
    public async Task Complete_WhileWriterBlocked_FailsTheWriter()
    {
        var b = Create();
        Fill(b);
        var pending = b.Writer.WriteAsync(99).AsTask();
        await TestWait.UntilAsync(() => b.GetStatistics().BlockedWriters == 1, "the writer is blocked");
        b.Writer.Complete();
        await Assert.ThrowsAsync<BufferCompletedException>(() => TestWait.Within(pending));
        Assert.DoesNotContain(99, Drain(b));
    }

    [Fact]
    public async Task ReadAsync_Empty_WaitsForAWrite()
    {
        var b = Create();
        var pending = b.Reader.ReadAsync().AsTask();
        Assert.False(pending.IsCompleted);
        b.Writer.TryWrite(3);
        Assert.Equal(3, await TestWait.Within(pending));
    }

    [Fact]
    public async Task WaitToReadAsync_Canceled_ThrowsAndTakesNothing()
    {
        var b = Create();
        using var cts = new CancellationTokenSource();
        var pending = b.Reader.WaitToReadAsync(cts.Token).AsTask();
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => TestWait.Within(pending));
        b.Writer.TryWrite(1);
        Assert.True(b.Reader.TryRead(out var item));
        Assert.Equal(1, item);
    }

    [Fact]
    public async Task ReadBatchAsync_MaxItems_ReturnsAtOnceWhenReached()
    {
        var b = Create();
        Fill(b);
        var batch = new List<int>();
        var n = await TestWait.Within(b.Reader.ReadBatchAsync(batch, 2, TimeSpan.FromHours(1)));
        Assert.Equal(2, n);
        Assert.Equal([1, 2], batch);
    }

    [Fact]
    public async Task ReadBatchAsync_Linger_WaitsForMoreThenReturnsPartial()
    {
        var time = new FakeTimeProvider();
        var b = Create(FullMode.Block, o => o.TimeProvider = time);
        b.Writer.TryWrite(1);
        var batch = new List<int>();
        var pending = b.Reader.ReadBatchAsync(batch, Room, TimeSpan.FromSeconds(5)).AsTask();
        await TestWait.UntilAsync(() => time.GetTimestamp() >= 0 && !pending.IsCompleted && batch.Count == 1, "the first item is taken");
        b.Writer.TryWrite(2);
        await TestWait.UntilAsync(() => batch.Count == 2, "the second item joins the lingering batch");
        Assert.False(pending.IsCompleted);

        // The reader arms its linger timer after it finds the buffer empty again, a moment after taking the second
        // item: an advance in between would pass before the timer existed. Each look advances the clock once more.
        await TestWait.UntilAsync(
            () =>
            {
                time.Advance(TimeSpan.FromSeconds(5));
                return pending.IsCompleted;
            },
            "the linger ends when its time has passed");
        Assert.Equal(2, await TestWait.Within(pending));
    }

    [Fact]
    public async Task ReadBatchAsync_Completed_ReturnsPartialThenZero()
    {
        var b = Create();
        b.Writer.TryWrite(1);
        b.Writer.Complete();
        var batch = new List<int>();
        Assert.Equal(1, await TestWait.Within(b.Reader.ReadBatchAsync(batch, Room, TimeSpan.FromHours(1))));
        Assert.Equal(0, await TestWait.Within(b.Reader.ReadBatchAsync(batch, Room, TimeSpan.FromHours(1))));
    }

    [Fact]
    public async Task ReadBatchAsync_CanceledWhileLingering_ReturnsWhatItHolds()
    {
        var b = Create();
        b.Writer.TryWrite(1);
        using var cts = new CancellationTokenSource();
        var batch = new List<int>();
        var pending = b.Reader.ReadBatchAsync(batch, Room, TimeSpan.FromHours(1), cts.Token).AsTask();
        await TestWait.UntilAsync(() => batch.Count == 1, "the first item is taken");
        await cts.CancelAsync();
        Assert.Equal(1, await TestWait.Within(pending));
        Assert.Equal([1], batch);
    }

    [Fact]
    public void TryWriteAll_Fits_AllOrNothing()
    {
        var b = Create(FullMode.Reject);
        Assert.True(b.Writer.TryWriteAll([1, 1, 1]));
        Assert.False(b.Writer.TryWriteAll([1, 1]));
        Assert.Equal(3, b.Count);
        Assert.Equal(2, b.GetStatistics().Rejected);
        Assert.True(b.Writer.TryWriteAll([1]));
        Assert.Equal(Room, b.Count);
    }

    [Theory]
    [InlineData(FullMode.Block)]
    [InlineData(FullMode.Reject)]
    [InlineData(FullMode.DropNewest)]
    [InlineData(FullMode.DropOldest)]
    public void TryWriteAllIfRoom_NoRoom_WritesDropsAndCountsNothingWhateverTheMode(FullMode mode)
    {
        var b = Create(mode);
        Assert.True(b.Writer.TryWriteAllIfRoom([1, 2, 3]));
        var before = b.GetStatistics();

        // Two do not fit beside three: under every mode the call is a no-op the caller can follow with per-item writes.
        Assert.False(b.Writer.TryWriteAllIfRoom([4, 5]));
        Assert.False(b.Writer.TryWriteAllIfRoom(Enumerable.Repeat(1, Room + 1).ToArray()));
        var after = b.GetStatistics();
        Assert.Equal(before.Written, after.Written);
        Assert.Equal(0, after.Dropped);
        Assert.Equal([1, 2, 3], Drain(b));

        Assert.True(b.Writer.TryWriteAllIfRoom([4, 5]));
        Assert.Equal([4, 5], Drain(b));
    }

    [Fact]
    public async Task TryWriteAllIfRoom_WriterWaiting_DoesNotOvertakeIt()
    {
        var b = Create();
        Fill(b);
        var pending = b.Writer.WriteAsync(9).AsTask();
        await TestWait.UntilAsync(() => b.GetStatistics().BlockedWriters == 1, "the writer is blocked");
        Assert.True(b.Reader.TryRead(out _));
        Assert.True(await TestWait.Within(pending));

        // Room for one again, and a blocked writer would take it first: the span must not jump the queue.
        var second = b.Writer.WriteAsync(10).AsTask();
        await TestWait.UntilAsync(() => b.GetStatistics().BlockedWriters == 1, "the second writer is blocked");
        Assert.True(b.Reader.TryRead(out _));
        Assert.True(await TestWait.Within(second));
        Assert.False(b.Writer.TryWriteAllIfRoom([11]));
        Assert.Equal([3, 4, 9, 10], Drain(b));
    }

    [Fact]
    public async Task TryWriteAllIfRoom_ReaderWaiting_WakesItWithTheWholeSpan()
    {
        var b = Create();
        var batch = new List<int>();
        var read = b.Reader.ReadBatchAsync(batch, Room, TimeSpan.Zero).AsTask();
        await TestWait.UntilAsync(() => b.GetStatistics().WaitingReaders == 1, "the reader waits");
        Assert.True(b.Writer.TryWriteAllIfRoom([1, 2, 3]));
        Assert.Equal(3, await TestWait.Within(read));
        Assert.Equal([1, 2, 3], batch);
    }

    [Fact]
    public void TryWriteAllIfRoom_Completed_ReturnsFalse()
    {
        var b = Create();
        b.Writer.Complete();
        Assert.False(b.Writer.TryWriteAllIfRoom([1]));
        Assert.Equal(0, b.GetStatistics().Written);
    }

    [Fact]
    public async Task WriteAllAsync_Blocked_WaitsForRoomForAll()
    {
        var b = Create();
        Fill(b);
        var pending = b.Writer.WriteAllAsync([7, 8]).AsTask();
        await TestWait.UntilAsync(() => b.GetStatistics().BlockedWriters == 1, "the batch writer is blocked");
        Assert.True(b.Reader.TryRead(out _));
        Assert.False(pending.IsCompleted);
        Assert.Equal(Room - 1, b.Count);
        Assert.True(b.Reader.TryRead(out _));
        Assert.True(await TestWait.Within(pending));
        Assert.Equal([3, 4, 7, 8], Drain(b));
    }

    [Fact]
    public async Task WriteAllAsync_LargerThanBuffer_RefusedAsTooLarge()
    {
        var b = Create();
        var items = Enumerable.Repeat(1, Room + 1).ToArray();
        Assert.False(await TestWait.Within(b.Writer.WriteAllAsync(items)));
        Assert.Equal(Room + 1, b.GetStatistics().TooLarge);
        Assert.Equal(0, b.Count);
    }

    [Fact]
    public async Task BlockedWriters_AreAdmittedInArrivalOrder()
    {
        var b = Create();
        Fill(b);
        var first = b.Writer.WriteAsync(10).AsTask();
        await TestWait.UntilAsync(() => b.GetStatistics().BlockedWriters == 1, "the first writer waits");
        var second = b.Writer.WriteAsync(11).AsTask();
        await TestWait.UntilAsync(() => b.GetStatistics().BlockedWriters == 2, "the second writer waits");
        Assert.False(b.Writer.TryWrite(12));

        // Each read admits the head writer, so draining sees the waiting writes in the order they arrived.
        Assert.Equal([.. Enumerable.Range(1, Room), 10, 11], Drain(b));
        await TestWait.Within(Task.WhenAll(first, second));
    }

    [Fact]
    public void Statistics_OldestItemAge_FollowsTheClock()
    {
        var time = new FakeTimeProvider();
        var b = Create(FullMode.Block, o => o.TimeProvider = time);
        Assert.Equal(TimeSpan.Zero, b.GetStatistics().OldestItemAge);
        b.Writer.TryWrite(1);
        time.Advance(TimeSpan.FromSeconds(3));
        b.Writer.TryWrite(1);
        Assert.Equal(TimeSpan.FromSeconds(3), b.GetStatistics().OldestItemAge);
        b.Reader.TryRead(out _);
        Assert.Equal(TimeSpan.Zero, b.GetStatistics().OldestItemAge);
    }

    protected static void Fill(BoundedBuffer<int> b)
    {
        for (var i = 1; i <= Room; i++)
        {
            Assert.True(b.Writer.TryWrite(i), $"item {i} should fit");
        }
    }

    protected static List<int> Drain(BoundedBuffer<int> b)
    {
        var items = new List<int>();
        while (b.Reader.TryRead(out var item))
        {
            items.Add(item);
        }

        return items;
    }
}

/// <summary>Bounded by count only.</summary>
public sealed class CountBoundedBufferTests : BufferContractTests
{
    protected override BufferOptions<int> Options(FullMode mode) => new() { Capacity = Room, FullMode = mode };
}

/// <summary>Bounded by bytes only: the count bound is far away, every item here weighs 10 bytes.</summary>
public sealed class ByteBoundedBufferTests : BufferContractTests
{
    protected override BufferOptions<int> Options(FullMode mode) =>
        new() { Capacity = 1_000, MaxBytes = Room * 10, SizeOf = static _ => 10, FullMode = mode };

    [Fact]
    public void TryWrite_ItemLargerThanMaxBytes_IsTooLarge()
    {
        var b = new BoundedBuffer<int>(new BufferOptions<int> { Capacity = 10, MaxBytes = 100, SizeOf = static i => i, FullMode = FullMode.DropOldest });
        b.Writer.TryWrite(60);
        Assert.False(b.Writer.TryWrite(101));
        Assert.Equal(1, b.GetStatistics().TooLarge);
        Assert.Equal(1, b.Count);
    }

    [Fact]
    public void TryWrite_DropOldest_EvictsAsManyAsTheNewItemNeeds()
    {
        var b = new BoundedBuffer<int>(new BufferOptions<int> { Capacity = 10, MaxBytes = 100, SizeOf = static i => i, FullMode = FullMode.DropOldest });
        b.Writer.TryWrite(30);
        b.Writer.TryWrite(30);
        b.Writer.TryWrite(30);
        Assert.True(b.Writer.TryWrite(70));
        var s = b.GetStatistics();
        Assert.Equal(2, s.DroppedOldest);
        Assert.Equal(100, s.Bytes);
        Assert.Equal([30, 70], Drain(b));
    }

    [Fact]
    public async Task ReadBatchAsync_MaxBytes_StopsBeforeTheItemThatWouldOverflow()
    {
        var b = new BoundedBuffer<int>(new BufferOptions<int> { Capacity = 10, MaxBytes = 1000, SizeOf = static i => i });
        foreach (var size in new[] { 40, 40, 40, 500 })
        {
            b.Writer.TryWrite(size);
        }

        var batch = new List<int>();
        Assert.Equal(2, await b.Reader.ReadBatchAsync(batch, 10, 100, TimeSpan.Zero));
        batch.Clear();
        Assert.Equal(1, await b.Reader.ReadBatchAsync(batch, 10, 100, TimeSpan.Zero));
        batch.Clear();
        Assert.Equal(1, await b.Reader.ReadBatchAsync(batch, 10, 100, TimeSpan.Zero));
        Assert.Equal([500], batch);
    }

    [Fact]
    public async Task ReadBatchAsync_LingeringBatchReachesMaxBytes_ReturnsAtOnceWithoutWaitingOutTheLinger()
    {
        // A fake clock that never moves: a batch that waited for its linger instead of ending at the byte bound
        // would never return (it used to spin on the queued item that does not fit, reading the clock each time).
        var time = new FakeTimeProvider();
        var b = new BoundedBuffer<int>(new BufferOptions<int> { Capacity = 10, MaxBytes = 1000, SizeOf = static i => i, TimeProvider = time });
        b.Writer.TryWrite(60);
        var batch = new List<int>();
        var pending = b.Reader.ReadBatchAsync(batch, 10, 100, TimeSpan.FromHours(1)).AsTask();
        await TestWait.UntilAsync(() => batch.Count == 1, "the first item is taken");
        b.Writer.TryWrite(30);
        b.Writer.TryWrite(50);
        Assert.Equal(2, await TestWait.Within(pending));
        Assert.Equal([60, 30], batch);
        Assert.True(b.Reader.TryRead(out var next));
        Assert.Equal(50, next);
    }
}

/// <summary>Bounded by count and bytes at once; which one bites depends on the items.</summary>
public sealed class CountAndByteBoundedBufferTests : BufferContractTests
{
    protected override BufferOptions<int> Options(FullMode mode) =>
        new() { Capacity = Room, MaxBytes = 1_000, SizeOf = static i => Math.Max(1, i), FullMode = mode };

    [Fact]
    public async Task WriteAsync_ByteBoundBites_BlocksUntilBytesFree()
    {
        var b = new BoundedBuffer<int>(new BufferOptions<int> { Capacity = 100, MaxBytes = 100, SizeOf = static i => i });
        Assert.True(b.Writer.TryWrite(60));
        var pending = b.Writer.WriteAsync(50).AsTask();
        await TestWait.UntilAsync(() => b.GetStatistics().BlockedWriters == 1, "the writer is blocked on bytes");
        Assert.Equal(60, b.GetStatistics().Bytes);
        Assert.True(b.Reader.TryRead(out _));
        Assert.True(await TestWait.Within(pending));
        Assert.Equal(50, b.GetStatistics().Bytes);
    }
}
