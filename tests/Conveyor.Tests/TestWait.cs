using System.Diagnostics;

namespace Conveyor.Tests;

/// <summary>Waits on conditions with a deadline instead of sleeping for a guessed time.</summary>
internal static class TestWait
{
    public static readonly TimeSpan DefaultDeadline = TimeSpan.FromSeconds(20);

    public static async Task UntilAsync(Func<bool> condition, string what, TimeSpan? deadline = null)
    {
        var limit = deadline ?? DefaultDeadline;
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > limit)
            {
                throw new TimeoutException($"Timed out after {limit} waiting until {what}.");
            }

            await Task.Delay(1);
        }
    }

    /// <summary>Awaits a task that must finish within the deadline (a hang fails the test instead of hanging the run).</summary>
    public static async Task<T> Within<T>(Task<T> task, TimeSpan? deadline = null)
    {
        await task.WaitAsync(deadline ?? DefaultDeadline);
        return await task;
    }

    public static async Task Within(Task task, TimeSpan? deadline = null) => await task.WaitAsync(deadline ?? DefaultDeadline);

    public static async Task<T> Within<T>(ValueTask<T> task, TimeSpan? deadline = null) => await Within(task.AsTask(), deadline);
}
