using System.Collections.Concurrent;
using System.Diagnostics;

namespace Conveyor.Benchmarks;

/// <summary>
/// The seed's argument, measured: producers ten times faster than the consumer for a fixed time, through a
/// bounded Conveyor buffer or a naive unbounded queue. Prints RSS and the age of the oldest queued item each second.
///   dotnet run -c Release --project bench/Conveyor.Benchmarks -- overload bounded|unbounded [seconds]
/// </summary>
internal static class Overload
{
    private const int LineBytes = 1024;
    private const int ConsumerPerSecond = 10_000;
    private const int ProducerPerSecond = ConsumerPerSecond * 10;

    public static async Task<int> RunAsync(string mode, int seconds)
    {
        var bounded = mode == "bounded";
        var buffer = new BoundedBuffer<(long Ticks, byte[] Line)>(new BufferOptions<(long, byte[])>
        {
            Capacity = 100_000,
            MaxBytes = 16L << 20,
            SizeOf = static x => x.Item2.Length,
        });
        var unbounded = new ConcurrentQueue<(long Ticks, byte[] Line)>();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        long produced = 0, consumed = 0, peakRss = 0;
        double oldestAge = 0;

        var producer = Task.Run(async () =>
        {
            var clock = Stopwatch.StartNew();
            while (!stop.IsCancellationRequested)
            {
                // Pace in 10 ms slices so the offered rate is ProducerPerSecond whatever the machine.
                var due = (long)(clock.Elapsed.TotalSeconds * ProducerPerSecond);
                while (produced < due && !stop.IsCancellationRequested)
                {
                    var item = (Stopwatch.GetTimestamp(), new byte[LineBytes]);
                    if (bounded)
                    {
                        try
                        {
                            await buffer.Writer.WriteAsync(item, stop.Token);
                        }
                        catch (OperationCanceledException)
                        {
                            break;
                        }
                    }
                    else
                    {
                        unbounded.Enqueue(item);
                    }

                    produced++;
                }

                await Task.Delay(10);
            }
        });

        var consumer = Task.Run(async () =>
        {
            var clock = Stopwatch.StartNew();
            while (!stop.IsCancellationRequested)
            {
                var due = (long)(clock.Elapsed.TotalSeconds * ConsumerPerSecond);
                while (consumed < due)
                {
                    (long Ticks, byte[] Line) item;
                    var got = bounded ? buffer.Reader.TryRead(out item) : unbounded.TryDequeue(out item);
                    if (!got)
                    {
                        break;
                    }

                    oldestAge = Stopwatch.GetElapsedTime(item.Ticks).TotalSeconds;
                    consumed++;
                }

                await Task.Delay(10);
            }
        });

        var report = Stopwatch.StartNew();
        await Console.Out.WriteLineAsync("second,rss_mib,queued,oldest_age_s");
        for (var s = 1; s <= seconds; s++)
        {
            await Task.Delay(TimeSpan.FromSeconds(s) - report.Elapsed);
            var rss = Process.GetCurrentProcess().WorkingSet64;
            peakRss = Math.Max(peakRss, rss);
            var queued = bounded ? buffer.Count : unbounded.Count;
            await Console.Out.WriteLineAsync($"{s},{rss >> 20},{queued},{oldestAge:F1}");
        }

        await Task.WhenAll(producer, consumer);
        await Console.Out.WriteLineAsync($"# {mode}: produced {produced}, consumed {consumed}, peak RSS {peakRss >> 20} MiB, oldest item age {oldestAge:F1} s");
        return 0;
    }
}
