namespace Conveyor.Tests.Buffering;

/// <summary>
/// Many producers and consumers under every policy and bound, with exact accounting: every produced item is
/// consumed exactly once or reported dropped exactly once, never both and never neither. About 10M items per
/// run; <c>STRESS=1</c> multiplies it by ten.
/// </summary>
public sealed class BufferStressTests
{
    private static readonly int ItemsPerCase = Environment.GetEnvironmentVariable("STRESS") == "1" ? 12_500_000 : 1_250_000;

    public static TheoryData<FullMode, bool> Cases()
    {
        var data = new TheoryData<FullMode, bool>();
        foreach (var mode in Enum.GetValues<FullMode>())
        {
            data.Add(mode, false);
            data.Add(mode, true);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task ManyProducersManyConsumers_EveryItemConsumedOnceOrDroppedOnce(FullMode mode, bool byteBound)
    {
        const int producers = 4;
        const int consumers = 4;
        var total = ItemsPerCase;
        var consumed = new int[total];
        var dropped = new int[total];
        long droppedCount = 0;
        long maxDepthSeen = 0;
        long maxBytesSeen = 0;
        var options = new BufferOptions<int>
        {
            Capacity = byteBound ? 100_000 : 256,
            MaxBytes = byteBound ? 4_000 : null,
            SizeOf = byteBound ? static i => (i % 61) + 1 : null,
            FullMode = mode,
            OnDropped = (item, _) =>
            {
                if (Interlocked.Increment(ref dropped[item]) != 1)
                {
                    throw new InvalidOperationException($"item {item} reported dropped twice");
                }

                Interlocked.Increment(ref droppedCount);
            },
        };
        var buffer = new BoundedBuffer<int>(options);

        var producerTasks = Enumerable.Range(0, producers).Select(p => Task.Run(async () =>
        {
            for (var i = p; i < total; i += producers)
            {
                // Mix the write paths; under Block a refused TryWrite falls back to waiting, so nothing is dropped.
                // Under the other modes a refused TryWrite has already reported the item as dropped.
                if ((i & 7) == 0 || (!buffer.Writer.TryWrite(i) && mode == FullMode.Block))
                {
                    await buffer.Writer.WriteAsync(i);
                }
            }
        })).ToArray();

        var consumerTasks = Enumerable.Range(0, consumers).Select(c => Task.Run(async () =>
        {
            var batch = new List<int>(128);
            var random = new Random(c);
            while (true)
            {
                batch.Clear();
                switch (c)
                {
                    case 0:
                        try
                        {
                            batch.Add(await buffer.Reader.ReadAsync());
                        }
                        catch (BufferCompletedException)
                        {
                            return;
                        }

                        break;
                    case 1:
                        if (!buffer.Reader.TryRead(out var one))
                        {
                            if (!await buffer.Reader.WaitToReadAsync())
                            {
                                return;
                            }

                            continue;
                        }

                        batch.Add(one);
                        break;
                    case 2:
                        if (await buffer.Reader.ReadBatchAsync(batch, 64, 2_000, TimeSpan.FromMilliseconds(1)) == 0)
                        {
                            return;
                        }

                        break;
                    default:
                        // Batch reads under random cancellation: a cancelled read must lose nothing it took.
                        using (var cts = new CancellationTokenSource(TimeSpan.FromTicks(random.Next(1, 20_000))))
                        {
                            try
                            {
                                if (await buffer.Reader.ReadBatchAsync(batch, 100, long.MaxValue, TimeSpan.FromMilliseconds(2), cts.Token) == 0)
                                {
                                    return;
                                }
                            }
                            catch (OperationCanceledException)
                            {
                                Assert.Empty(batch);
                                continue;
                            }
                        }

                        break;
                }

                foreach (var item in batch)
                {
                    if (Interlocked.Increment(ref consumed[item]) != 1)
                    {
                        throw new InvalidOperationException($"item {item} consumed twice");
                    }
                }

                var s = buffer.GetStatistics();
                InterlockedMax(ref maxDepthSeen, s.Depth);
                InterlockedMax(ref maxBytesSeen, s.Bytes);
            }
        })).ToArray();

        await TestWait.Within(Task.WhenAll(producerTasks), TimeSpan.FromMinutes(3));
        buffer.Writer.Complete();
        await TestWait.Within(Task.WhenAll(consumerTasks), TimeSpan.FromMinutes(1));
        await TestWait.Within(buffer.Completion);

        var stats = buffer.GetStatistics();
        long consumedCount = 0;
        for (var i = 0; i < total; i++)
        {
            if (consumed[i] + dropped[i] != 1)
            {
                Assert.Fail($"item {i}: consumed {consumed[i]}×, dropped {dropped[i]}×");
            }

            consumedCount += consumed[i];
        }

        Assert.Equal(stats.Read, consumedCount);
        Assert.Equal(stats.Dropped, droppedCount);
        Assert.Equal(stats.Written, stats.Read + stats.DroppedOldest);
        Assert.Equal(total, consumedCount + droppedCount);
        Assert.True(maxDepthSeen <= options.Capacity, $"depth {maxDepthSeen} > capacity");
        Assert.True(maxBytesSeen <= (options.MaxBytes ?? long.MaxValue), $"bytes {maxBytesSeen} > max");
        if (mode == FullMode.Block)
        {
            Assert.Equal(0, droppedCount);
        }
    }

    private static void InterlockedMax(ref long target, long value)
    {
        var current = Volatile.Read(ref target);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }
}
