namespace Conveyor.Diagnostics;

/// <summary>
/// The live buffers the observable instruments report on. Buffers register themselves when built and are held
/// weakly, so a buffer nobody references any more disappears from the metrics instead of leaking.
/// </summary>
internal static class BufferMetrics
{
    private static readonly Lock Sync = new();
    private static readonly List<WeakReference<IBufferStatisticsSource>> Sources = [];

    public static void Register(IBufferStatisticsSource source)
    {
        ConveyorMeter.EnsureCreated();
        lock (Sync)
        {
            // Prune on registration too, so a program that creates many short-lived buffers keeps the list small.
            if (Sources.Count >= 64)
            {
                Sources.RemoveAll(static w => !w.TryGetTarget(out _));
            }

            Sources.Add(new WeakReference<IBufferStatisticsSource>(source));
        }
    }

    public static List<(string Name, BufferStatistics Statistics)> Snapshot()
    {
        List<IBufferStatisticsSource> live = [];
        lock (Sync)
        {
            Sources.RemoveAll(w =>
            {
                if (w.TryGetTarget(out var s))
                {
                    live.Add(s);
                    return false;
                }

                return true;
            });
        }

        // Statistics are read outside the registry lock: each takes its own buffer's lock.
        return live.ConvertAll(static s => (s.Name, s.GetStatistics()));
    }
}
