using System.Diagnostics;

namespace Conveyor.Tests.Buffering;

[CollectionDefinition(nameof(CpuMeasuringCollection), DisableParallelization = true)]
public sealed class CpuMeasuringCollection;

/// <summary>Runs alone, because it measures the whole process's CPU time.</summary>
[Collection(nameof(CpuMeasuringCollection))]
public sealed class IdleTests
{
    [Fact]
    public async Task EmptyBuffer_EightWaitingConsumers_BurnAlmostNoCpu()
    {
        var buffer = new BoundedBuffer<int>(16);
        var consumers = Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            var batch = new List<int>();
            while (await buffer.Reader.ReadBatchAsync(batch, 10, TimeSpan.FromMilliseconds(5)) > 0)
            {
                batch.Clear();
            }
        })).ToArray();
        await TestWait.UntilAsync(() => buffer.GetStatistics().WaitingReaders == 8, "all consumers wait");

        // Tests that ran before this one leave background work behind (tier-1 JIT, thread-pool spin-down, GC);
        // wait until the process is quiet in a short window before measuring the long one. Even so, a CI run once
        // measured 421 ms in one window against 4 ms in the baseline, a burst of the runtime's own work that came
        // and went: so the consumers' window is measured up to three times and the quietest counts. Consumers that
        // poll or spin burn in every window, so none of the three would pass for them.
        var process = Process.GetCurrentProcess();
        var windows = new List<(TimeSpan Used, long WorkItems, long WallMs)>();
        for (var attempt = 0; attempt < 3; attempt++)
        {
            await WaitUntilQuietAsync(process);
            process.Refresh();
            var before = process.TotalProcessorTime;
            var workItemsBefore = ThreadPool.CompletedWorkItemCount;
            var wall = Stopwatch.StartNew();

            // The one sleep in the suite (with the baseline window below): idleness is the thing measured, over a fixed window.
            await Task.Delay(TimeSpan.FromSeconds(1));
            process.Refresh();
            windows.Add((process.TotalProcessorTime - before, ThreadPool.CompletedWorkItemCount - workItemsBefore, wall.ElapsedMilliseconds));
            if (windows[^1].Used < TimeSpan.FromMilliseconds(100))
            {
                break;
            }
        }

        buffer.Writer.Complete();
        await TestWait.Within(Task.WhenAll(consumers));

        // The same window with no consumer at all: what the process burns without them (a fresh-clone CI run once
        // measured 839 ms in the consumers' window, from work the earlier tests' threads left running, which the
        // quiet wait gives up on after 15 s). Only the difference is the consumers'.
        process.Refresh();
        var baselineStart = process.TotalProcessorTime;
        await Task.Delay(TimeSpan.FromSeconds(1));
        process.Refresh();
        var baseline = process.TotalProcessorTime - baselineStart;

        // Eight polling or spinning consumers would burn at least a whole core (1000 ms) more than the baseline and
        // run thousands of work items in every window; waiting ones run none. The CPU bound is generous because the
        // runtime's own background work (tiering, GC) comes and goes between the windows.
        var quietest = windows.MinBy(w => w.Used);
        var described = string.Join(", ", windows.Select(w => $"{w.Used.TotalMilliseconds:F0} ms CPU and {w.WorkItems} work items in {w.WallMs} ms"));
        Assert.All(windows, w => Assert.True(w.WorkItems < 50, $"idle consumers ran thread-pool work items: {described}"));
        Assert.True(
            quietest.Used - baseline < TimeSpan.FromMilliseconds(400),
            $"idle consumers used {described}; the process {baseline.TotalMilliseconds:F0} ms without them");
    }

    private static async Task WaitUntilQuietAsync(Process process)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(15))
        {
            process.Refresh();
            var start = process.TotalProcessorTime;
            await Task.Delay(250);
            process.Refresh();
            if (process.TotalProcessorTime - start < TimeSpan.FromMilliseconds(20))
            {
                return;
            }
        }
    }
}
