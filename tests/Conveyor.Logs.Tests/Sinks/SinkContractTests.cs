using Conveyor.Logs.Model;
using Conveyor.Logs.Sinks;
using Conveyor.Logs.Tests.Support;

namespace Conveyor.Logs.Tests.Sinks;

/// <summary>What every sink promises, run against each implementation.</summary>
public abstract class SinkContractTests : IAsyncLifetime
{
    /// <summary>A prefix unique to this test, so parallel tests never share rows.</summary>
    protected string Prefix { get; } = "t" + Guid.NewGuid().ToString("N")[..12];

    /// <summary>False for stores that cannot deduplicate (append-only files): they are at-least-once.</summary>
    protected virtual bool IsIdempotent => true;

    protected abstract Task<ILogSink> OpenSinkAsync();

    protected abstract Task<long> CountStoredAsync();

    protected abstract Task<long> CountDeadLettersAsync();

    /// <summary>An event this sink refuses permanently.</summary>
    protected abstract LogEvent Poison(string id);

    public virtual Task InitializeAsync() => Task.CompletedTask;

    public virtual Task DisposeAsync() => Task.CompletedTask;

    private async Task<ResilientSink> OpenResilientAsync() => new(await OpenSinkAsync());

    [Fact]
    public async Task WriteBatchAsync_NEvents_StoresN()
    {
        await using (var sink = await OpenResilientAsync())
        {
            await sink.WriteBatchAsync(TestEvents.Batch(Prefix, 250), default);
            await sink.WriteBatchAsync(TestEvents.Batch(Prefix, 50, 250), default);
        }

        Assert.Equal(300, await CountStoredAsync());
        Assert.Equal(0, await CountDeadLettersAsync());
    }

    [Fact]
    public async Task WriteBatchAsync_ReplayedBatch_StoresNothingTwice()
    {
        var batch = TestEvents.Batch(Prefix, 120);
        await using (var sink = await OpenResilientAsync())
        {
            await sink.WriteBatchAsync(batch, default);
            await sink.WriteBatchAsync(batch, default);
            await sink.WriteBatchAsync(batch.Take(60).ToList(), default);
        }

        // Append-only files cannot see what they already hold: they promise at-least-once, and say so.
        Assert.Equal(IsIdempotent ? 120 : 300, await CountStoredAsync());
    }

    [Fact]
    public async Task WriteBatchAsync_PoisonEventInBatch_DeadLettersItAndStoresTheRest()
    {
        var batch = TestEvents.Batch(Prefix, 99);
        batch.Insert(37, Poison($"{Prefix}-poison"));
        await using (var sink = await OpenResilientAsync())
        {
            // Through the sink lane: its stage bisects the refused batch and dead-letters the poison alone.
            var report = await SinkLaneHarness.WriteAsync(sink, batch);
            Assert.Equal((99L, 1L, 0L), (report.StoredEvents, report.Rejected, report.Failed));
        }

        Assert.Equal(99, await CountStoredAsync());
        Assert.Equal(1, await CountDeadLettersAsync());
    }

    [Fact]
    public async Task DisposeAsync_AfterWrites_FlushesEverything()
    {
        var sink = await OpenSinkAsync();
        await sink.WriteBatchAsync(TestEvents.Batch(Prefix, 10), default);
        await sink.WriteDeadLettersAsync([new DeadLetter($"{Prefix}-dl", "web", "combined", "no request line", "garbage", TestEvents.Base)], default);
        await sink.DisposeAsync();

        Assert.Equal(10, await CountStoredAsync());
        Assert.Equal(1, await CountDeadLettersAsync());
    }

    [Fact]
    public async Task CheckHealthAsync_OpenSink_IsHealthy()
    {
        await using var sink = await OpenSinkAsync();
        var health = await sink.CheckHealthAsync(default);
        Assert.True(health.IsHealthy, health.Description);
    }
}
