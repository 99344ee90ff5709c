using Conveyor.Logs.Query;
using Conveyor.Logs.Sinks;
using Conveyor.Logs.Sinks.DuckDb;
using Conveyor.Logs.Tests.Support;
using Microsoft.Extensions.Time.Testing;

namespace Conveyor.Logs.Tests.Sinks;

/// <summary><see cref="SearchPriority"/>: writes wait for the searches held, never longer than its bounds.</summary>
public sealed class SearchPriorityTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    [Fact]
    public void WaitAsync_NoSearch_CompletesAtOnce()
    {
        var priority = new SearchPriority(new FakeTimeProvider());
        Assert.True(priority.WaitAsync(default).AsTask().IsCompletedSuccessfully);
        priority.Enter().Dispose();
        Assert.True(priority.WaitAsync(default).AsTask().IsCompletedSuccessfully);
        Assert.Equal(TimeSpan.Zero, priority.Waited);
    }

    [Fact]
    public async Task WaitAsync_SearchesHeld_CompletesWhenTheLastEnds()
    {
        var clock = new FakeTimeProvider();
        var priority = new SearchPriority(clock);
        var first = priority.Enter();
        var second = priority.Enter();
        var waiting = priority.WaitAsync(default).AsTask();
        Assert.False(waiting.IsCompleted);
        Assert.Equal(1, priority.Waiting);

        clock.Advance(TimeSpan.FromMilliseconds(30));
        first.Dispose();
        first.Dispose(); // once: a second dispose does not end the other search
        Assert.False(waiting.IsCompleted);
        second.Dispose();
        await waiting.WaitAsync(Wait);
        Assert.Equal(0, priority.Searches);
        Assert.Equal(TimeSpan.FromMilliseconds(30), priority.Waited);
    }

    [Fact]
    public async Task WaitAsync_SearchOutlastsMaxWait_CompletesAfterMaxWaitAndThenNotAgainForAsLong()
    {
        var clock = new FakeTimeProvider();
        var priority = new SearchPriority(clock);
        using var search = priority.Enter();
        var waiting = priority.WaitAsync(default).AsTask();
        clock.Advance(SearchPriority.MaxWait - TimeSpan.FromMilliseconds(1));
        Assert.False(waiting.IsCompleted);
        clock.Advance(TimeSpan.FromMilliseconds(1));
        await waiting.WaitAsync(Wait);
        Assert.Equal(SearchPriority.MaxWait, priority.Waited);

        // The writer had waited MaxWait: for as long again it goes on while the search is still held.
        clock.Advance(SearchPriority.MaxWait - TimeSpan.FromMilliseconds(1));
        Assert.True(priority.WaitAsync(default).AsTask().IsCompletedSuccessfully);
        clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.False(priority.WaitAsync(default).AsTask().IsCompleted);
    }

    [Fact]
    public async Task WaitAsync_Cancelled_Throws()
    {
        var priority = new SearchPriority(new FakeTimeProvider());
        using var search = priority.Enter();
        using var cancel = new CancellationTokenSource();
        var waiting = priority.WaitAsync(cancel.Token).AsTask();
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.WaitAsync(Wait));
        Assert.Equal(0, priority.Waiting);
    }

    [Fact]
    public async Task DuckDbWrite_WhileTheStoreSearches_WaitsForTheSearchThenStoresEveryEvent()
    {
        var clock = new FakeTimeProvider(TestEvents.Base.AddHours(2));
        var path = Path.Combine(TestEvents.TempFolder(), "priority.duckdb");
        await using var sink = await DuckDbSink.OpenAsync(new DuckDbSinkOptions { Path = path }, clock);
        await using var store = sink.OpenStore();
        var search = sink.Searches.Enter();
        var write = sink.WriteBatchAsync(TestEvents.Batch("p", 300), default).AsTask();
        await TestEvents.WaitUntilAsync(() => Task.FromResult(sink.Searches.Waiting == 1), Wait, "the write waiting for the search");

        // A search of the store meanwhile sees none of the waiting batch (and holds the writes back itself).
        Assert.Equal(0, await store.CountAsync(new LogQuery(null)));
        Assert.False(write.IsCompleted);

        search.Dispose();
        await write.WaitAsync(Wait);
        Assert.Equal(300, await store.CountAsync(new LogQuery(null)));
    }

    [Fact]
    public async Task StoreReads_SearchCountAndHistogram_EachHoldTheWritesBackWhileTheyRead()
    {
        var path = Path.Combine(TestEvents.TempFolder(), "held.duckdb");
        await using (var sink = await DuckDbSink.OpenAsync(new DuckDbSinkOptions { Path = path }))
        {
            await sink.WriteBatchAsync(TestEvents.Batch("h", 20), default);
        }

        var full = Path.GetFullPath(path);
        var priority = new SearchPriority(new FakeTimeProvider());
        using var opening = new SemaphoreSlim(0);
        using var release = new SemaphoreSlim(0);
        await using var store = new SqlLogStore(
            SqlDialect.DuckDb,
            () =>
            {
                // The read is between its start and its connection: hold it there while the test looks.
                opening.Release();
                release.Wait(Wait);
                return DuckDbSink.NewConnection(full, 64L << 20, 1, readOnly: true);
            },
            null,
            priority: priority);

        async Task Held(Func<Task> read)
        {
            var reading = Task.Run(read);
            Assert.True(await opening.WaitAsync(Wait));
            Assert.Equal(1, priority.Searches);
            Assert.False(priority.WaitAsync(default).AsTask().IsCompleted);
            release.Release();
            await reading.WaitAsync(Wait);
            Assert.Equal(0, priority.Searches);
        }

        await Held(async () => Assert.Equal(20, (await store.SearchAsync(new LogQuery(null, Limit: 50))).Count));
        await Held(async () => Assert.Equal(20, await store.CountAsync(new LogQuery(null))));
        await Held(async () => Assert.Equal(20, (await store.HistogramAsync(new LogQuery(null), TimeSpan.FromDays(1))).Sum(b => b.Count)));
    }
}
