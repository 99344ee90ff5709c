using Conveyor.Logs.Query;
using Conveyor.Logs.Sinks.Postgres;
using Conveyor.Logs.Tests.Support;

namespace Conveyor.Logs.Tests.Query;

public sealed class PostgresGoldenFixture : IAsyncLifetime
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

public sealed class PostgresLogStoreTests(PostgresGoldenFixture fixture) : LogStoreContractTests, IClassFixture<PostgresGoldenFixture>
{
    protected override bool PreservesAttributeOrder => false;

    protected override Task<ILogStore> GoldenStoreAsync() => Task.FromResult(LogStore.Open("postgres:" + fixture.ConnectionString));

    protected override Task<long> CountEventsRawAsync() => PostgresTestServer.ScalarAsync(fixture.ConnectionString, "SELECT count(*) FROM events");
}
