using Conveyor.Logs.Query;
using Conveyor.Logs.Sinks.Sqlite;
using Conveyor.Logs.Tests.Support;

namespace Conveyor.Logs.Tests.Query;

/// <summary>The golden data set is written once per test class and only read by the tests.</summary>
public abstract class SqliteGoldenFixtureBase : IAsyncLifetime
{
    private readonly SqliteFullText fullText;

    protected SqliteGoldenFixtureBase(SqliteFullText fullText) => this.fullText = fullText;

    public string Path { get; } = System.IO.Path.Combine(TestEvents.TempFolder(), "golden.db");

    public async Task InitializeAsync()
    {
        await using var sink = await SqliteSink.OpenAsync(new SqliteSinkOptions { Path = Path, FullText = fullText });
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

public sealed class SqliteGoldenFixture() : SqliteGoldenFixtureBase(SqliteFullText.Trigram);

public sealed class SqliteWordsGoldenFixture() : SqliteGoldenFixtureBase(SqliteFullText.Words);

public sealed class SqliteNoIndexGoldenFixture() : SqliteGoldenFixtureBase(SqliteFullText.None);

/// <summary>The golden suite on a store with the words index (the default): same answers as the trigram store.</summary>
public sealed class SqliteWordsLogStoreTests(SqliteWordsGoldenFixture fixture) : LogStoreContractTests, IClassFixture<SqliteWordsGoldenFixture>
{
    protected override Task<ILogStore> GoldenStoreAsync() => Task.FromResult(LogStore.Open("sqlite:" + fixture.Path));

    protected override Task<long> CountEventsRawAsync() => Task.FromResult(SqliteTestDb.Scalar(fixture.Path, "SELECT count(*) FROM events"));

    [Theory]
    [InlineData("GET /api/items/12 HTTP", "api items 12")]
    [InlineData("items/1", "")]
    [InlineData("timeout", "")]
    [InlineData("a.b-c", "b")]
    [InlineData("x_y_z", "y")]
    [InlineData("/café/ /ok/ a+b+c", "ok")]
    public void InnerWords_Term_AreTheWordsEveryMatchHoldsWhole(string term, string expected)
    {
        Assert.Equal(expected, string.Join(' ', QueryCompiler.InnerWords(term)));
    }
}

/// <summary>The golden suite on a store without a full-text index.</summary>
public sealed class SqliteNoIndexLogStoreTests(SqliteNoIndexGoldenFixture fixture) : LogStoreContractTests, IClassFixture<SqliteNoIndexGoldenFixture>
{
    protected override Task<ILogStore> GoldenStoreAsync() => Task.FromResult(LogStore.Open("sqlite:" + fixture.Path));

    protected override Task<long> CountEventsRawAsync() => Task.FromResult(SqliteTestDb.Scalar(fixture.Path, "SELECT count(*) FROM events"));
}
