using System.Collections.Concurrent;

namespace Conveyor.Tests.Pipelines;

public sealed class PipelineTests
{
    [Fact]
    public async Task Pipeline_SourceTransformSink_EveryItemArrivesAndCompletionFlows()
    {
        var stored = new ConcurrentBag<string>();
        await using var pipeline = Pipeline.Create(new BufferOptions<int> { Capacity = 128, Name = "in" })
            .Transform((int i, CancellationToken _) => ValueTask.FromResult($"#{i}"), new StageOptions<int> { Name = "format", Workers = 2 }, new BufferOptions<string> { Capacity = 64, Name = "out" })
            .SinkBatch((batch, _) =>
            {
                foreach (var s in batch)
                {
                    stored.Add(s);
                }

                return ValueTask.CompletedTask;
            }, new StageOptions<string> { Name = "store", BatchMaxItems = 32 });

        for (var i = 0; i < 20_000; i++)
        {
            await pipeline.Writer.WriteAsync(i);
        }

        var drain = await TestWait.Within(pipeline.DrainAsync(TimeSpan.FromMinutes(1)));
        Assert.True(drain.Completed);
        await TestWait.Within(pipeline.Completion);
        Assert.Equal(20_000, stored.Distinct().Count());
        Assert.Equal(["format", "store"], pipeline.Stages.Select(s => s.Name));
        Assert.Equal(20_000, pipeline.Stages[^1].GetStatistics().Processed);
    }

    [Fact]
    public async Task Pipeline_HeadCompletedWithError_FaultsCompletionAfterDelivering()
    {
        var stored = new ConcurrentBag<int>();
        var pipeline = Pipeline.Create(new BufferOptions<int> { Capacity = 16 })
            .Transform((int i, CancellationToken _) => ValueTask.FromResult(i), new StageOptions<int>(), new BufferOptions<int> { Capacity = 16 })
            .Sink((i, _) =>
            {
                stored.Add(i);
                return ValueTask.CompletedTask;
            }, new StageOptions<int>());

        pipeline.Writer.TryWrite(1);
        pipeline.Writer.Complete(new InvalidDataException("source failed"));
        await Assert.ThrowsAsync<InvalidDataException>(() => TestWait.Within(pipeline.Completion));
        Assert.Equal([1], stored);
    }

    [Fact]
    public async Task Pipeline_DrainDeadline_AccountsForEveryItem()
    {
        var release = new TaskCompletionSource();
        var stored = 0;
        var pipeline = Pipeline.Create(new BufferOptions<int> { Capacity = 1_000 })
            .TransformBatch((IReadOnlyList<int> batch, List<int> results, CancellationToken _) =>
            {
                results.AddRange(batch);
                return ValueTask.CompletedTask;
            }, new StageOptions<int> { BatchMaxItems = 10 }, new BufferOptions<int> { Capacity = 1_000 })
            .Sink(async (i, ct) =>
            {
                if (i >= 100)
                {
                    await release.Task.WaitAsync(ct);
                }

                Interlocked.Increment(ref stored);
            }, new StageOptions<int> { Retry = new RetryOptions { MaxAttempts = 1 } });

        const int sent = 500;
        for (var i = 0; i < sent; i++)
        {
            pipeline.Writer.TryWrite(i);
        }

        await TestWait.UntilAsync(() => Volatile.Read(ref stored) == 100, "the sink has stored the first 100");
        var result = await TestWait.Within(pipeline.DrainAsync(TimeSpan.FromMilliseconds(200)));

        // sent = stored + dead-lettered + left: nothing is forgotten at a deadline.
        var sink = pipeline.Stages[^1].GetStatistics();
        Assert.False(result.Completed);
        Assert.Equal(sent, stored + sink.DeadLettered + result.LeftCount);
    }
}
