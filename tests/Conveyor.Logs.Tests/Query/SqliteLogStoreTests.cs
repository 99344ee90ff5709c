using Conveyor.Logs.Query;
using Conveyor.Logs.Sinks.Sqlite;
using Conveyor.Logs.Tests.Support;

namespace Conveyor.Logs.Tests.Query;

/// <summary>The golden data set is written once per test class and only read by the tests.</summary>
public sealed class SqliteGoldenFixture : IAsyncLifetime
{
    public string Path { get; } = System.IO.Path.Combine(TestEvents.TempFolder(), "golden.db");

    public async Task InitializeAsync()
    {
        await using var sink = await SqliteSink.OpenAsync(new SqliteSinkOptions { Path = Path });
        await sink.WriteBatchAsync(GoldenData.Events(), default);
        await sink.WriteDeadLettersAsync(LogStoreContractTests.GoldenDeadLetters(), default);
    }

    public Task DisposeAsync() => Task.CompletedTask;
}

public sealed class SqliteLogStoreTests(SqliteGoldenFixture fixture) : LogStoreContractTests, IClassFixture<SqliteGoldenFixture>
{
    protected override Task<ILogStore> GoldenStoreAsync() => Task.FromResult(LogStore.Open("sqlite:" + fixture.Path));

    protected override Task<long> CountEventsRawAsync() => Task.FromResult(SqliteTestDb.Scalar(fixture.Path, "SELECT count(*) FROM events"));

    [Fact]
    public void Open_MissingFile_ThrowsNotFound()
    {
        Assert.Throws<LogStoreNotFoundException>(() => LogStore.Open("sqlite:/nonexistent/conveyor.db"));
    }
}
