using Conveyor.Logs.Query;
using Conveyor.Logs.Sinks.Postgres;
using Conveyor.Logs.Tests.Support;

namespace Conveyor.Logs.Tests.Query;

/// <summary>The golden day written and then closed: its partition has the query indexes (B-trees, pg_trgm).</summary>
public sealed class PostgresGoldenFixture : IAsyncLifetime
{
    public string ConnectionString { get; private set; } = string.Empty;

    public async Task InitializeAsync()
    {
        ConnectionString = await PostgresTestServer.CreateSchemaAsync();
        var later = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(new DateTimeOffset(2026, 11, 22, 0, 0, 0, TimeSpan.Zero));
        await using var sink = await PostgresSink.OpenAsync(new PostgresSinkOptions { ConnectionString = ConnectionString }, later);
        await sink.WriteBatchAsync(GoldenData.Events(), default);
        await sink.WriteDeadLettersAsync(LogStoreContractTests.GoldenDeadLetters(), default);
        await sink.ApplyRetentionAsync();
        Assert.Contains(new DateOnly(2026, 11, 20), await sink.SealedDaysAsync());
    }

    public Task DisposeAsync() => Task.CompletedTask;
}

/// <summary>The golden day as it is while being written: only the key and BRIN.</summary>
public sealed class PostgresLiveGoldenFixture : IAsyncLifetime
{
    public string ConnectionString { get; private set; } = string.Empty;

    public async Task InitializeAsync()
    {
        ConnectionString = await PostgresTestServer.CreateSchemaAsync();
        await using var sink = await PostgresSink.OpenAsync(new PostgresSinkOptions { ConnectionString = ConnectionString });
        await sink.WriteBatchAsync(GoldenData.Events(), default);
        await sink.WriteDeadLettersAsync(LogStoreContractTests.GoldenDeadLetters(), default);
    }

    public Task DisposeAsync() => Task.CompletedTask;
}

public sealed class PostgresLiveLogStoreTests(PostgresLiveGoldenFixture fixture) : LogStoreContractTests, IClassFixture<PostgresLiveGoldenFixture>
{
    protected override bool PreservesAttributeOrder => false;

    protected override Task<ILogStore> GoldenStoreAsync() => Task.FromResult(LogStore.Open("postgres:" + fixture.ConnectionString));

    protected override Task<long> CountEventsRawAsync() => PostgresTestServer.ScalarAsync(fixture.ConnectionString, "SELECT count(*) FROM events");
}

public sealed class PostgresLogStoreTests(PostgresGoldenFixture fixture) : LogStoreContractTests, IClassFixture<PostgresGoldenFixture>
{
    protected override bool PreservesAttributeOrder => false;

    protected override Task<ILogStore> GoldenStoreAsync() => Task.FromResult(LogStore.Open("postgres:" + fixture.ConnectionString));

    protected override Task<long> CountEventsRawAsync() => PostgresTestServer.ScalarAsync(fixture.ConnectionString, "SELECT count(*) FROM events");
}
