using Conveyor.Durable;

namespace Conveyor.Tests.Durable;

public sealed class DiskBufferStressTests : DiskBufferFixture
{
    [Fact]
    public async Task ManyWritersAndReaders_OutOfOrderAcks_EveryRecordExactlyOnce()
    {
        const int writers = 4;
        const int perWriter = 5000;
        var seen = new int[writers * perWriter];
        await using var b = Open(o => o.MaxRecords = 1500);

        var writing = Enumerable.Range(0, writers).Select(w => Task.Run(async () =>
        {
            var random = new Random(w);
            var next = 0;
            while (next < perWriter)
            {
                var count = Math.Min(perWriter - next, random.Next(1, 10));
                var batch = Enumerable.Range(next, count).Select(i => (ReadOnlyMemory<byte>)Record((w * perWriter) + i, random.Next(8, 400))).ToList();
                Assert.True(await b.WriteAllAsync(batch));
                next += count;
            }
        })).ToArray();

        var reading = Enumerable.Range(0, 3).Select(r => Task.Run(async () =>
        {
            var random = new Random(100 + r);
            var held = new List<DiskRecord>();
            var batch = new List<DiskRecord>();
            while (true)
            {
                batch.Clear();
                if (await b.ReadBatchAsync(batch, 64, 64 << 10, TimeSpan.FromMilliseconds(1)) == 0)
                {
                    break;
                }

                foreach (var record in batch)
                {
                    Interlocked.Increment(ref seen[IdOf(record.Payload)]);
                }

                // Acknowledge out of order: the previous batch, shuffled, while this one is held.
                foreach (var record in held.OrderBy(_ => random.Next()).ToList())
                {
                    record.Acknowledgement.Complete(DeliveryOutcome.Delivered);
                }

                held.Clear();
                held.AddRange(batch);
            }

            foreach (var record in held)
            {
                Assert.True(b.Acknowledge(record.Sequence));
            }
        })).ToArray();

        await TestWait.Within(Task.WhenAll(writing), TimeSpan.FromMinutes(2));
        b.Complete();
        await TestWait.Within(Task.WhenAll(reading), TimeSpan.FromMinutes(2));
        await TestWait.Within(b.Completion);

        Assert.All(seen, count => Assert.Equal(1, count));
        var s = b.GetDiskStatistics();
        Assert.Equal(writers * perWriter, s.Buffer.Written);
        Assert.Equal(writers * perWriter, s.Buffer.Read);
        Assert.Equal(writers * perWriter, s.Acknowledged);
        Assert.Equal(0, s.Unacknowledged);
        Assert.Equal(0, s.Buffer.Dropped);
        Assert.True(s.Segments <= 1, $"{s.Segments} segments left");
    }
}
