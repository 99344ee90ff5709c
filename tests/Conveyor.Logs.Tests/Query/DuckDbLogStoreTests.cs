using Conveyor.Logs.Query;
using Conveyor.Logs.Sinks.DuckDb;
using Conveyor.Logs.Tests.Sinks;
using Conveyor.Logs.Tests.Support;

namespace Conveyor.Logs.Tests.Query;

/// <summary>The golden data set is written once per test class and closed, so the store opens the file read-only.</summary>
public sealed class DuckDbGoldenFixture : IAsyncLifetime
{
    public string Path { get; } = System.IO.Path.Combine(TestEvents.TempFolder(), "golden.duckdb");

    public async Task InitializeAsync()
    {
        // In batches of seven: each batch is a body-filter block, so bare words are answered through the filters.
        await using var sink = await DuckDbSink.OpenAsync(new DuckDbSinkOptions { Path = Path });
        foreach (var batch in GoldenData.Events().Chunk(7))
        {
            await sink.WriteBatchAsync(batch, default);
        }

        await sink.WriteDeadLettersAsync(LogStoreContractTests.GoldenDeadLetters(), default);
    }

    public Task DisposeAsync() => Task.CompletedTask;
}

public sealed class DuckDbLogStoreTests(DuckDbGoldenFixture fixture) : LogStoreContractTests, IClassFixture<DuckDbGoldenFixture>
{
    /// <summary>Hot attributes live in typed columns and come back first.</summary>
    protected override bool PreservesAttributeOrder => false;

    protected override Task<ILogStore> GoldenStoreAsync() => Task.FromResult(LogStore.Open("duckdb:" + fixture.Path));

    protected override Task<long> CountEventsRawAsync() => Task.FromResult(DuckDbTestDb.Scalar(fixture.Path, "SELECT count(*) FROM events"));

    [Fact]
    public void Open_MissingFile_ThrowsNotFound()
    {
        Assert.Throws<LogStoreNotFoundException>(() => LogStore.Open("duckdb:/nonexistent/conveyor.duckdb"));
    }
}

/// <summary>The writer's own store: searching while the sink holds the file, through its instance.</summary>
public sealed class DuckDbSinkStoreTests
{
    [Fact]
    public async Task OpenStore_WhileSinkWrites_SeesEveryCommittedBatch()
    {
        var path = System.IO.Path.Combine(TestEvents.TempFolder(), "live.duckdb");
        await using var sink = await DuckDbSink.OpenAsync(new DuckDbSinkOptions { Path = path });
        await using var store = sink.OpenStore();
        for (var i = 0; i < 5; i++)
        {
            await sink.WriteBatchAsync(TestEvents.Batch("live", 200, i * 200), default);
            Assert.Equal((i + 1) * 200, await store.CountAsync(new LogQuery(null)));
        }

        // LogStore.Open in the writing process shares the same instance instead of a second open DuckDB would refuse.
        await using var byUri = LogStore.Open("duckdb:" + path);
        Assert.Equal(1000, await byUri.CountAsync(new LogQuery("GET")));
        Assert.Equal("live-000999", (await byUri.SearchAsync(new LogQuery(null, Limit: 1))).Events[0].Id);
    }
}
