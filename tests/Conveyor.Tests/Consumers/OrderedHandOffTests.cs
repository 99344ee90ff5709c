using Microsoft.Extensions.Time.Testing;

namespace Conveyor.Tests.Consumers;

/// <summary>
/// The core stage's ordered hand-off (<see cref="StageOptions{T}.Ordered"/>): batches are prepared in parallel and
/// handed on in take order. The buffer is FIFO and each take is contiguous, so the items handed on, concatenated,
/// are 0..n-1 exactly when the hand-ons ran in the order of the takes.
/// </summary>
public sealed class OrderedHandOffTests
{
    [Fact]
    public async Task ForEachBatch_OrderedManyWorkersRandomHandlingTime_HandsOnInTakeOrder()
    {
        const int total = 20_000;
        var buffer = new BoundedBuffer<int>(1_000);
        var handedOn = new List<int>(total);
        var running = 0;
        var overlapped = false;
        var stage = Stage.ForEachBatch<int, int[]>(
            buffer.Reader,
            async (batch, ct) =>
            {
                // A copy: the worker reuses its batch list. Each batch takes a random time, so later ones often finish first.
                var items = batch.ToArray();
                switch (Random.Shared.Next(4))
                {
                    case 0:
                        await Task.Yield();
                        break;
                    case 1:
                        Thread.SpinWait(Random.Shared.Next(50_000));
                        break;
                    case 2:
                        await Task.Delay(Random.Shared.Next(1, 3), ct);
                        break;
                }

                return items;
            },
            (items, _) =>
            {
                if (Interlocked.Increment(ref running) != 1)
                {
                    overlapped = true;
                }

                lock (handedOn)
                {
                    handedOn.AddRange(items);
                }

                Interlocked.Decrement(ref running);
                return ValueTask.CompletedTask;
            },
            new StageOptions<int> { Workers = 4, BatchMaxItems = 16, Ordered = true, Retry = new RetryOptions { MaxAttempts = 1 } });

        var producer = Task.Run(async () =>
        {
            for (var i = 0; i < total; i++)
            {
                await buffer.Writer.WriteAsync(i);
            }

            buffer.Writer.Complete();
        });
        await TestWait.Within(producer, TimeSpan.FromSeconds(60));
        await TestWait.Within(stage.Completion, TimeSpan.FromSeconds(60));

        Assert.False(overlapped, "two hand-ons ran at once");
        Assert.Equal(total, handedOn.Count);
        Assert.Equal(Enumerable.Range(0, total), handedOn);
        var s = stage.GetStatistics();
        Assert.Equal(total, s.Received);
        Assert.Equal(total, s.Processed);
        Assert.Equal(0, s.DeadLettered);
    }

    [Fact]
    public async Task DrainAsync_OrderedSlowBatchInMiddle_CompletesWithEverythingInOrder()
    {
        var time = new FakeTimeProvider();
        var gate = new TaskCompletionSource();
        var harness = SlowBatchStage(time, (batch, ct) => batch[0] == 50 ? gate.Task.WaitAsync(ct) : Task.CompletedTask);
        await harness.UntilSuccessorsWaitAsync();

        // The slow batch holds its successors back: nothing after 49 is handed on while it is unfinished.
        Assert.Equal(Enumerable.Range(0, 50), harness.HandedOn());
        var drain = harness.Stage.DrainAsync(TimeSpan.FromSeconds(30));
        gate.SetResult();
        var result = await TestWait.Within(drain);

        Assert.True(result.Completed);
        Assert.Empty(result.Left);
        Assert.Equal(Enumerable.Range(0, 100), harness.HandedOn());
        var s = harness.Stage.GetStatistics();
        Assert.Equal(100, s.Processed);
        Assert.Equal(0, s.Left + s.DeadLettered + s.InFlight);
    }

    [Fact]
    public async Task DrainAsync_OrderedDeadlinePassesBehindSlowBatch_EndsAndReportsTheRestAsLeft()
    {
        var time = new FakeTimeProvider();
        var harness = SlowBatchStage(time, (batch, ct) => batch[0] == 50 ? Task.Delay(Timeout.Infinite, ct) : Task.CompletedTask);
        await harness.UntilSuccessorsWaitAsync();

        var drain = harness.Stage.DrainAsync(TimeSpan.FromSeconds(5));
        Assert.False(drain.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(5));
        var result = await TestWait.Within(drain);

        // The successors waiting for their turn were cancelled with the slow batch, not stalled behind it: all are left.
        Assert.False(result.Completed);
        Assert.Equal(Enumerable.Range(0, 50), harness.HandedOn());
        Assert.Equal(Enumerable.Range(50, 50), result.Left.Order());
        var s = harness.Stage.GetStatistics();
        Assert.Equal(100, s.Processed + s.DeadLettered + s.Left);
        Assert.Equal(0, s.InFlight);
    }

    [Fact]
    public async Task ForEachBatch_OrderedBatchDeadLetteredWhole_DoesNotHoldBackItsSuccessors()
    {
        var buffer = new BoundedBuffer<int>(100);
        for (var i = 0; i < 100; i++)
        {
            buffer.Writer.TryWrite(i);
        }

        buffer.Writer.Complete();
        var handedOn = new List<int>();
        var dead = new List<int>();
        var stage = Stage.ForEachBatch<int, int[]>(
            buffer.Reader,
            (batch, _) => batch[0] == 30 ? throw new FormatException("poison batch") : ValueTask.FromResult(batch.ToArray()),
            (items, _) =>
            {
                lock (handedOn)
                {
                    handedOn.AddRange(items);
                }

                return ValueTask.CompletedTask;
            },
            new StageOptions<int>
            {
                Workers = 3,
                BatchMaxItems = 10,
                Ordered = true,
                Retry = new RetryOptions { MaxAttempts = 1, IsTransient = static _ => true },
                DeadLetter = (d, _) =>
                {
                    lock (dead)
                    {
                        dead.Add(d.Item);
                    }

                    return ValueTask.CompletedTask;
                },
            });
        await TestWait.Within(stage.Completion);

        Assert.Equal(Enumerable.Range(0, 30).Concat(Enumerable.Range(40, 60)), handedOn);
        Assert.Equal(Enumerable.Range(30, 10), dead.Order());
        var s = stage.GetStatistics();
        Assert.Equal(100, s.Processed + s.DeadLettered);
        Assert.Equal(10, s.DeadLettered);
    }

    /// <summary>
    /// Three ordered workers over 100 items queued before the start, 10 per batch (so batch k holds 10k..10k+9);
    /// <paramref name="slow"/> runs in each batch's first step.
    /// </summary>
    private static SlowBatch SlowBatchStage(FakeTimeProvider time, Func<IReadOnlyList<int>, CancellationToken, Task> slow)
    {
        var buffer = new BoundedBuffer<int>(new BufferOptions<int> { Capacity = 100, TimeProvider = time });
        for (var i = 0; i < 100; i++)
        {
            buffer.Writer.TryWrite(i);
        }

        buffer.Writer.Complete();
        var harness = new SlowBatch();
        harness.Stage = Stage.ForEachBatch<int, int[]>(
            buffer.Reader,
            async (batch, ct) =>
            {
                var items = batch.ToArray();
                await slow(items, ct);
                if (items[0] > 50)
                {
                    Interlocked.Increment(ref harness.PreparedAfterSlow);
                }

                return items;
            },
            (items, _) =>
            {
                lock (harness.Items)
                {
                    harness.Items.AddRange(items);
                }

                return ValueTask.CompletedTask;
            },
            new StageOptions<int> { Workers = 3, BatchMaxItems = 10, Ordered = true, TimeProvider = time, Retry = new RetryOptions { MaxAttempts = 1 } });
        return harness;
    }

    private sealed class SlowBatch
    {
        public int PreparedAfterSlow;

        public List<int> Items { get; } = [];

        public ConsumerStage<int> Stage { get; set; } = null!;

        public int[] HandedOn()
        {
            lock (Items)
            {
                return [.. Items];
            }
        }

        /// <summary>The other two workers have each prepared a batch taken after the slow one.</summary>
        public Task UntilSuccessorsWaitAsync() =>
            TestWait.UntilAsync(() => Volatile.Read(ref PreparedAfterSlow) >= 2 && HandedOn().Length >= 50, "both successors of the slow batch are prepared");
    }
}
