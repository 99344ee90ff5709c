using Conveyor.Logs.Model;
using Conveyor.Logs.Sinks;
using Conveyor.Logs.Sinks.Sqlite;
using Conveyor.Logs.Tests.Support;
using Microsoft.Data.Sqlite;

namespace Conveyor.Logs.Tests.Sinks.Sqlite;

public sealed class SqliteSinkContractTests : SinkContractTests
{
    private readonly string _path = Path.Combine(TestEvents.TempFolder(), "conveyor.db");

    protected override async Task<ILogSink> OpenSinkAsync() => await SqliteSink.OpenAsync(new SqliteSinkOptions { Path = _path, MaxEventBytes = 4096 });

    protected override Task<long> CountStoredAsync() => Task.FromResult(SqliteTestDb.Scalar(_path, "SELECT count(*) FROM events"));

    protected override Task<long> CountDeadLettersAsync() => Task.FromResult(SqliteTestDb.Scalar(_path, "SELECT count(*) FROM dead_letters"));

    /// <summary>SQLite stores any text, so the poison is an event over the sink's size limit.</summary>
    protected override LogEvent Poison(string id) => new(id, "web", new string('x', 10_000), TestEvents.Base);
}

public sealed class SqliteSinkTests
{
    private readonly string _path = Path.Combine(TestEvents.TempFolder(), "conveyor.db");

    [Fact]
    public async Task OpenAsync_NewDatabase_UsesWalAndCurrentSchema()
    {
        await using var sink = await SqliteSink.OpenAsync(new SqliteSinkOptions { Path = _path });
        Assert.Equal(SqliteSchema.CurrentVersion, SqliteTestDb.Scalar(_path, "PRAGMA user_version"));
        using var c = new SqliteConnection(SqliteSink.ConnectionString(_path, SqliteOpenMode.ReadOnly));
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "PRAGMA journal_mode";
        Assert.Equal("wal", cmd.ExecuteScalar());
    }

    [Fact]
    public async Task OpenAsync_VersionZeroDatabaseWithOtherTables_MigratesAndKeepsThem()
    {
        using (var c = new SqliteConnection(SqliteSink.ConnectionString(_path, SqliteOpenMode.ReadWriteCreate)))
        {
            c.Open();
            SqliteSchema.Execute(c, "CREATE TABLE notes (x TEXT); INSERT INTO notes VALUES ('kept')");
        }

        await using (var sink = await SqliteSink.OpenAsync(new SqliteSinkOptions { Path = _path }))
        {
            await sink.WriteBatchAsync(TestEvents.Batch("m", 3), default);
        }

        // Opening again must not migrate twice.
        await using (await SqliteSink.OpenAsync(new SqliteSinkOptions { Path = _path }))
        {
        }

        Assert.Equal(SqliteSchema.CurrentVersion, SqliteTestDb.Scalar(_path, "PRAGMA user_version"));
        Assert.Equal(1, SqliteTestDb.Scalar(_path, "SELECT count(*) FROM notes"));
        Assert.Equal(3, SqliteTestDb.Scalar(_path, "SELECT count(*) FROM events"));
    }

    [Fact]
    public async Task OpenAsync_NewerSchemaVersion_RefusesWithClearMessage()
    {
        using (var c = new SqliteConnection(SqliteSink.ConnectionString(_path, SqliteOpenMode.ReadWriteCreate)))
        {
            c.Open();
            SqliteSchema.Execute(c, "PRAGMA user_version = 999");
        }

        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => SqliteSink.OpenAsync(new SqliteSinkOptions { Path = _path }));
        Assert.Contains("newer", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WriteBatchAsync_ReplayedBatch_AddsNoFullTextRows()
    {
        await using (var sink = await SqliteSink.OpenAsync(new SqliteSinkOptions { Path = _path }))
        {
            var batch = TestEvents.Batch("f", 70);
            await sink.WriteBatchAsync(batch, default);
            await sink.WriteBatchAsync(batch, default);
        }

        Assert.Equal(70, SqliteTestDb.Scalar(_path, "SELECT count(*) FROM events_fts WHERE events_fts MATCH '\"GET\"'"));
        Assert.Equal(1, SqliteTestDb.Scalar(_path, "SELECT count(*) FROM events_fts WHERE events_fts MATCH '\"/item/42 \"'"));
    }

    [Fact]
    public async Task WriteBatchAsync_LargeBatch_SplitsIntoTransactionsAndStoresAll()
    {
        await using (var sink = await SqliteSink.OpenAsync(new SqliteSinkOptions { Path = _path, MaxTransactionEvents = 100, RowsPerStatement = 16 }))
        {
            await sink.WriteBatchAsync(TestEvents.Batch("l", 1003), default);
        }

        Assert.Equal(1003, SqliteTestDb.Scalar(_path, "SELECT count(*) FROM events"));
    }

    [Fact]
    public async Task ApplyRetentionAsync_MaxAge_DeletesOlderEventsAndDeadLetters()
    {
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(TestEvents.Base.AddDays(10));
        await using var sink = await SqliteSink.OpenAsync(new SqliteSinkOptions { Path = _path, RetentionMaxAge = TimeSpan.FromDays(3), RetentionChunk = 7 }, clock);
        var events = Enumerable.Range(0, 100).Select(i => TestEvents.Access("r", i, TestEvents.Base.AddHours(i * 3))).ToList();
        await sink.WriteBatchAsync(events, default);
        await sink.WriteDeadLettersAsync([new DeadLetter("old", "s", "p", "r", "x", TestEvents.Base), new DeadLetter("new", "s", "p", "r", "x", clock.GetUtcNow())], default);

        var result = await sink.ApplyRetentionAsync();

        var cutoff = clock.GetUtcNow().AddDays(-3);
        var expected = events.Count(e => e.EffectiveTimestamp < cutoff);
        Assert.Equal(expected, result.Events);
        Assert.Equal(1, result.DeadLetters);
        Assert.Equal(100 - expected, SqliteTestDb.Scalar(_path, "SELECT count(*) FROM events"));
        Assert.Equal(0, SqliteTestDb.Scalar(_path, $"SELECT count(*) FROM events WHERE ts < {StoredEventProbe.Micros(cutoff)}"));
        Assert.Equal(100 - expected, SqliteTestDb.Scalar(_path, "SELECT count(*) FROM events_fts WHERE events_fts MATCH '\"GET\"'"));
    }

    [Fact]
    public async Task ApplyRetentionAsync_MaxBytes_KeepsDatabaseUnderLimitDeletingOldestFirst()
    {
        const long limit = 1L << 20;
        await using var sink = await SqliteSink.OpenAsync(new SqliteSinkOptions { Path = _path, RetentionMaxBytes = limit, RetentionChunk = 500 });
        for (var b = 0; b < 10; b++)
        {
            await sink.WriteBatchAsync(TestEvents.Batch("s", 2000, b * 2000), default);
        }

        Assert.True(sink.UsedBytes() > limit, "the test needs a database over the limit");
        var result = await sink.ApplyRetentionAsync();

        Assert.True(result.Events > 0);
        Assert.True(sink.UsedBytes() <= limit, $"used {sink.UsedBytes()} > {limit}");
        Assert.True(new FileInfo(_path).Length <= limit * 2, $"file {new FileInfo(_path).Length} bytes after incremental vacuum");
        var oldestLeft = SqliteTestDb.Scalar(_path, "SELECT min(ts) FROM events");
        var newestDeleted = StoredEventProbe.Micros(TestEvents.Base.AddSeconds(result.Events - 1));
        Assert.True(oldestLeft > newestDeleted);
    }

    [Fact]
    public void Validate_BadOption_NamesTheKey()
    {
        var e = Assert.Throws<ArgumentException>(() => new SqliteSinkOptions { Path = _path, RowsPerStatement = 0 }.Validate());
        Assert.Equal("RowsPerStatement", e.ParamName);
    }
}

internal static class StoredEventProbe
{
    public static long Micros(DateTimeOffset t) => (t.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;
}
