using Conveyor.Logs.Query;
using Conveyor.Logs.Sinks.DuckDb;
using Conveyor.Logs.Sinks.Slow;
using Conveyor.Logs.Tests.Support;
using Microsoft.Extensions.Time.Testing;

namespace Conveyor.Logs.Tests.Sinks;

/// <summary><c>slow:DURATION+URI</c>: the inner store with a slower write call, its two-step and concurrent writes kept.</summary>
public sealed class SlowSinkTests
{
    [Fact]
    public async Task WritePreparedAsync_OverDuckDbWithTwoWriters_KeepsItsPreparationAndConcurrencyAndWaitsOncePerBatch()
    {
        var clock = new FakeTimeProvider(TestEvents.Base);
        var path = Path.Combine(TestEvents.TempFolder(), "conveyor.duckdb");
        var inner = await DuckDbSink.OpenAsync(new DuckDbSinkOptions { Path = path, Writers = 2 });
        await using var sink = new SlowSink(inner, TimeSpan.FromMilliseconds(5), clock);
        Assert.Equal((true, 2), (sink.PreparesBatches, sink.ConcurrentWrites));

        var prepared = await sink.PrepareBatchAsync(TestEvents.Batch("s", 3), default);
        var write = sink.WritePreparedAsync(prepared, default).AsTask();
        Assert.False(write.IsCompleted, "the write waits its delay before it reaches the store");
        clock.Advance(TimeSpan.FromMilliseconds(5));
        await write.WaitAsync(TimeSpan.FromSeconds(30));

        await using var store = inner.OpenStore();
        Assert.Equal(3, await store.CountAsync(new LogQuery(null)));
    }
}
