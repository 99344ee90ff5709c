using Conveyor.Logs.Query;
using Conveyor.Logs.Sinks;
using Conveyor.Logs.Sinks.DuckDb;
using Conveyor.Logs.Sinks.Flaky;
using Conveyor.Logs.Sinks.Null;
using Conveyor.Logs.Tests.Support;
using Microsoft.Extensions.Time.Testing;

namespace Conveyor.Logs.Tests.Sinks;

/// <summary><c>flaky:UP/DOWN+URI</c>, the soak's failing and recovering sink: up, then down, then up again, by the clock.</summary>
public sealed class FlakySinkTests
{
    [Fact]
    public async Task WriteBatchAsync_UpThenDownThenUp_FailsTransientlyOnlyWhileDown()
    {
        var clock = new FakeTimeProvider(TestEvents.Base);
        await using var sink = new FlakySink(new NullSink(), TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(5), clock);
        var batch = TestEvents.Batch("f", 3);

        await sink.WriteBatchAsync(batch, default);
        Assert.True((await sink.CheckHealthAsync(default)).IsHealthy);

        clock.Advance(TimeSpan.FromSeconds(10));
        var down = await Assert.ThrowsAsync<SinkException>(async () => await sink.WriteBatchAsync(batch, default));
        Assert.True(down.IsTransient);
        Assert.False((await sink.CheckHealthAsync(default)).IsHealthy);
        await Assert.ThrowsAsync<SinkException>(async () => await sink.WriteDeadLettersAsync([], default));

        clock.Advance(TimeSpan.FromSeconds(5));
        await sink.WriteBatchAsync(batch, default);
        Assert.True((await sink.CheckHealthAsync(default)).IsHealthy);

        // The cycle repeats: 15 s later it is down again.
        clock.Advance(TimeSpan.FromSeconds(10));
        await Assert.ThrowsAsync<SinkException>(async () => await sink.WriteBatchAsync(batch, default));
    }

    [Fact]
    public async Task WritePreparedAsync_OverDuckDbWithTwoWriters_KeepsItsPreparationAndConcurrencyAndFailsOnlyWhileDown()
    {
        var clock = new FakeTimeProvider(TestEvents.Base);
        var path = Path.Combine(TestEvents.TempFolder(), "conveyor.duckdb");
        var inner = await DuckDbSink.OpenAsync(new DuckDbSinkOptions { Path = path, Writers = 2 });
        await using var sink = new FlakySink(inner, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(5), clock);
        Assert.Equal((true, 2), (sink.PreparesBatches, sink.ConcurrentWrites));

        await sink.WritePreparedAsync(await sink.PrepareBatchAsync(TestEvents.Batch("a", 3), default), default);
        clock.Advance(TimeSpan.FromSeconds(10));
        var down = await sink.PrepareBatchAsync(TestEvents.Batch("b", 2), default);
        var failure = await Assert.ThrowsAsync<SinkException>(async () => await sink.WritePreparedAsync(down, default));
        Assert.True(failure.IsTransient);

        clock.Advance(TimeSpan.FromSeconds(5));
        await sink.WritePreparedAsync(await sink.PrepareBatchAsync(TestEvents.Batch("b", 2), default), default);
        await using var store = inner.OpenStore();
        Assert.Equal(5, await store.CountAsync(new LogQuery(null)));
    }

    [Theory]
    [InlineData("flaky:20s/10s+null:", null)]
    [InlineData("flaky:20s+null:", "expected flaky:UP/DOWN+URI")]
    [InlineData("flaky:0s/10s+null:", "expected flaky:UP/DOWN+URI")]
    [InlineData("flaky:20s/10s+nosuch:x", "nosuch")]
    public void Check_FlakyUris_AcceptTwoPositiveDurationsAndASinkUri(string uri, string? problem)
    {
        var error = SinkRegistry.Check(uri);
        if (problem is null)
        {
            Assert.Null(error);
        }
        else
        {
            Assert.Contains(problem, error, StringComparison.Ordinal);
        }
    }
}
