using System.Collections.Concurrent;
using System.Threading.Channels;
using System.Threading.Tasks.Dataflow;
using BenchmarkDotNet.Attributes;

namespace Conveyor.Benchmarks.Buffering;

/// <summary>
/// Moves <see cref="Items"/> longs from producers to consumers through each structure, bounded at 1024, and
/// reports time and allocation per item. The raw bounded <see cref="Channel{T}"/> is the baseline.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(RatioConfig))]
public class HandoffBenchmarks
{
    public const int Items = 1_000_000;
    private const int Capacity = 1024;
    private const int Batch = 100;

    [Params(1, 2)]
    public int Pairs { get; set; }

    [Benchmark(Baseline = true, OperationsPerInvoke = Items)]
    public Task Channel_PerItem()
    {
        var channel = Channel.CreateBounded<long>(new BoundedChannelOptions(Capacity) { FullMode = BoundedChannelFullMode.Wait });
        return Run(
            async (from, to) =>
            {
                for (long i = from; i < to; i++)
                {
                    if (!channel.Writer.TryWrite(i))
                    {
                        await channel.Writer.WriteAsync(i);
                    }
                }
            },
            () => channel.Writer.Complete(),
            async () =>
            {
                long n = 0;
                while (await channel.Reader.WaitToReadAsync())
                {
                    while (channel.Reader.TryRead(out _))
                    {
                        n++;
                    }
                }

                return n;
            });
    }

    [Benchmark(OperationsPerInvoke = Items)]
    public Task Conveyor_PerItem_CountBound() => RunConveyor(new BufferOptions<long> { Capacity = Capacity });

    [Benchmark(OperationsPerInvoke = Items)]
    public Task Conveyor_PerItem_CountAndByteBound() =>
        RunConveyor(new BufferOptions<long> { Capacity = Capacity, MaxBytes = Capacity * 8, SizeOf = static _ => 8 });

    [Benchmark(OperationsPerInvoke = Items)]
    public Task Conveyor_Batched()
    {
        var buffer = new BoundedBuffer<long>(new BufferOptions<long> { Capacity = Capacity });
        return Run(
            async (from, to) =>
            {
                var batch = new long[Batch];
                for (var i = from; i < to; i += Batch)
                {
                    var n = (int)Math.Min(Batch, to - i);
                    for (var j = 0; j < n; j++)
                    {
                        batch[j] = i + j;
                    }

                    if (!buffer.Writer.TryWriteAll(batch.AsSpan(0, n)))
                    {
                        await buffer.Writer.WriteAllAsync(n == Batch ? batch : batch[..n]);
                    }
                }
            },
            () => buffer.Writer.Complete(),
            async () =>
            {
                long n = 0;
                var into = new List<long>(Batch);
                while (await buffer.Reader.ReadBatchAsync(into, Batch, TimeSpan.Zero) > 0)
                {
                    n += into.Count;
                    into.Clear();
                }

                return n;
            });
    }

    [Benchmark(OperationsPerInvoke = Items)]
    public Task BlockingCollection_PerItem()
    {
        var collection = new BlockingCollection<long>(Capacity);
        return Run(
            (from, to) =>
            {
                for (long i = from; i < to; i++)
                {
                    collection.Add(i);
                }

                return Task.CompletedTask;
            },
            collection.CompleteAdding,
            () =>
            {
                long n = 0;
                foreach (var unused in collection.GetConsumingEnumerable())
                {
                    n++;
                }

                return Task.FromResult(n);
            },
            dedicatedThreads: true);
    }

    [Benchmark(OperationsPerInvoke = Items)]
    public Task Dataflow_BufferBlock_PerItem()
    {
        var block = new BufferBlock<long>(new DataflowBlockOptions { BoundedCapacity = Capacity });
        return Run(
            async (from, to) =>
            {
                for (long i = from; i < to; i++)
                {
                    if (!block.Post(i))
                    {
                        await block.SendAsync(i);
                    }
                }
            },
            block.Complete,
            async () =>
            {
                long n = 0;
                while (await block.OutputAvailableAsync())
                {
                    while (block.TryReceive(out _))
                    {
                        n++;
                    }
                }

                return n;
            });
    }

    private Task RunConveyor(BufferOptions<long> options)
    {
        var buffer = new BoundedBuffer<long>(options);
        return Run(
            async (from, to) =>
            {
                for (long i = from; i < to; i++)
                {
                    if (!buffer.Writer.TryWrite(i))
                    {
                        await buffer.Writer.WriteAsync(i);
                    }
                }
            },
            () => buffer.Writer.Complete(),
            async () =>
            {
                long n = 0;
                while (await buffer.Reader.WaitToReadAsync())
                {
                    while (buffer.Reader.TryRead(out _))
                    {
                        n++;
                    }
                }

                return n;
            });
    }

    private async Task Run(Func<long, long, Task> produce, Action complete, Func<Task<long>> consume, bool dedicatedThreads = false)
    {
        var per = Items / Pairs;
        Task Start(Func<Task> work) => dedicatedThreads
            ? Task.Factory.StartNew(() => work().GetAwaiter().GetResult(), TaskCreationOptions.LongRunning)
            : Task.Run(work);

        var consumers = new Task<long>[Pairs];
        for (var c = 0; c < Pairs; c++)
        {
            consumers[c] = dedicatedThreads
                ? Task.Factory.StartNew(() => consume().GetAwaiter().GetResult(), TaskCreationOptions.LongRunning)
                : Task.Run(consume);
        }

        var producers = new Task[Pairs];
        for (var p = 0; p < Pairs; p++)
        {
            var from = (long)p * per;
            producers[p] = Start(() => produce(from, from + per));
        }

        await Task.WhenAll(producers);
        complete();
        long total = 0;
        foreach (var c in consumers)
        {
            total += await c;
        }

        if (total != (long)per * Pairs)
        {
            throw new InvalidOperationException($"moved {total} of {per * Pairs} items");
        }
    }
}
