using Conveyor.Logs.Model;
using Conveyor.Logs.Sinks;
using Conveyor.Logs.Sinks.Postgres;
using Conveyor.Logs.Tests.Support;

namespace Conveyor.Logs.Tests.Sinks.Postgres;

public sealed class PostgresSinkContractTests : SinkContractTests
{
    private string _cs = string.Empty;

    public override async Task InitializeAsync() => _cs = await PostgresTestServer.CreateSchemaAsync();

    protected override async Task<ILogSink> OpenSinkAsync() => await PostgresSink.OpenAsync(new PostgresSinkOptions { ConnectionString = _cs });

    protected override Task<long> CountStoredAsync() => PostgresTestServer.ScalarAsync(_cs, "SELECT count(*) FROM events");

    protected override Task<long> CountDeadLettersAsync() => PostgresTestServer.ScalarAsync(_cs, "SELECT count(*) FROM dead_letters");

    /// <summary>PostgreSQL text cannot hold a NUL byte: the server refuses it with 22021.</summary>
    protected override LogEvent Poison(string id) => new(id, "web", "bad \0 byte", TestEvents.Base) { Timestamp = TestEvents.Base };
}

public sealed class PostgresSinkTests
{
    [Fact]
    public async Task WriteBatchAsync_EventsOnSeveralDays_CreatesDayPartitionsAhead()
    {
        var cs = await PostgresTestServer.CreateSchemaAsync();
        await using (var sink = await PostgresSink.OpenAsync(new PostgresSinkOptions { ConnectionString = cs, PartitionDaysAhead = 2 }))
        {
            Assert.True(sink.HasTrigramIndex);
            var events = Enumerable.Range(0, 30).Select(i => TestEvents.Access("p", i, TestEvents.Base.AddHours(i * 5))).ToList();
            await sink.WriteBatchAsync(events, default);
        }

        Assert.Equal(30, await PostgresTestServer.ScalarAsync(cs, "SELECT count(*) FROM events"));
        // 30 events 5 h apart span 7 UTC days (Nov 20–26), plus 2 days ahead.
        Assert.Equal(9, await PostgresTestServer.ScalarAsync(cs, "SELECT count(*) FROM pg_inherits WHERE inhparent = 'events'::regclass"));
    }

    [Fact]
    public async Task WriteBatchAsync_BatchOverlappingStoredEventsAndItself_StoresEachIdOnce()
    {
        var cs = await PostgresTestServer.CreateSchemaAsync();
        await using (var sink = await PostgresSink.OpenAsync(new PostgresSinkOptions { ConnectionString = cs }))
        {
            await sink.WriteBatchAsync(TestEvents.Batch("v", 50), default);
            var overlapping = TestEvents.Batch("v", 100, 25);
            overlapping.AddRange(TestEvents.Batch("v", 10, 120));
            // ids 0–49 stored; the batch holds 25–124 plus 120–129 again: 0–129 must end up stored once each.
            await sink.WriteBatchAsync(overlapping, default);
        }

        Assert.Equal(130, await PostgresTestServer.ScalarAsync(cs, "SELECT count(*) FROM events"));
        Assert.Equal(130, await PostgresTestServer.ScalarAsync(cs, "SELECT count(DISTINCT id) FROM events"));
    }

    [Fact]
    public async Task ApplyRetentionAsync_RetentionDays_DropsOldPartitionsOnly()
    {
        var cs = await PostgresTestServer.CreateSchemaAsync();
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(TestEvents.Base.AddDays(10));
        await using var sink = await PostgresSink.OpenAsync(new PostgresSinkOptions { ConnectionString = cs, RetentionDays = 3, PartitionDaysAhead = 0 }, clock);
        var events = Enumerable.Range(0, 10).Select(i => TestEvents.Access("r", i, TestEvents.Base.AddDays(i))).ToList();
        await sink.WriteBatchAsync(events, default);
        await sink.WriteDeadLettersAsync([new DeadLetter("old", "s", "p", "r", "x", TestEvents.Base), new DeadLetter("new", "s", "p", "r", "x", clock.GetUtcNow())], default);

        var result = await sink.ApplyRetentionAsync();

        // Now is Nov 30; the first day kept is Nov 27, so Nov 20–26 (7 partitions) go.
        Assert.Equal(7, result.Partitions);
        Assert.Equal(1, result.DeadLetters);
        Assert.Equal(3, await PostgresTestServer.ScalarAsync(cs, "SELECT count(*) FROM events"));
        await sink.WriteBatchAsync(events, default);
        Assert.Equal(10, await PostgresTestServer.ScalarAsync(cs, "SELECT count(*) FROM events"));
    }

    [Fact]
    public void Classify_ServerShutdownAndNul_AreTransientAndPermanent()
    {
        var shutdown = new Npgsql.PostgresException("terminating connection due to administrator command", "FATAL", "FATAL", "57P01");
        var nul = new Npgsql.PostgresException("invalid byte sequence", "ERROR", "ERROR", "22021");
        var tooMany = new Npgsql.PostgresException("too many clients", "FATAL", "FATAL", "53300");
        Assert.True(PostgresSink.Classify(shutdown)!.IsTransient);
        Assert.True(PostgresSink.Classify(tooMany)!.IsTransient);
        Assert.False(PostgresSink.Classify(nul)!.IsTransient);
        Assert.True(PostgresSink.Classify(new System.Net.Sockets.SocketException(111))!.IsTransient);
    }

    [Fact]
    public async Task OpenAsync_NoConnectionString_NamesTheKey()
    {
        var e = await Assert.ThrowsAsync<ArgumentException>(() => PostgresSink.OpenAsync(new PostgresSinkOptions()));
        Assert.Equal("ConnectionString", e.ParamName);
    }
}
