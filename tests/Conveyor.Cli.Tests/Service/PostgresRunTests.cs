using Npgsql;

namespace Conveyor.Cli.Tests.Service;

/// <summary>
/// <c>conveyor run --to postgres:</c> against the throwaway server test.sh starts (CONVEYOR_TEST_POSTGRES); fails,
/// never skips, without it. Each test writes into its own schema.
/// </summary>
public sealed class PostgresRunTests
{
    [Fact]
    public async Task Run_ToPostgres_EveryStdinLineStoredOrDeadLettered()
    {
        var server = Environment.GetEnvironmentVariable("CONVEYOR_TEST_POSTGRES") is { Length: > 0 } cs
            ? cs
            : throw new InvalidOperationException("CONVEYOR_TEST_POSTGRES is not set: run the tests through ./test.sh, which starts a throwaway PostgreSQL.");
        var schema = "run_" + Guid.NewGuid().ToString("N")[..12];
        await using (var connection = new NpgsqlConnection(server))
        {
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE SCHEMA {schema}", connection);
            await create.ExecuteNonQueryAsync();
        }

        var store = "postgres:" + new NpgsqlConnectionStringBuilder(server) { SearchPath = schema }.ConnectionString;
        await using var p = ConveyorProcess.Start(ConveyorProcess.TempDirectory(), ["run", "--from", "stdin:", "--to", store], redirectStdin: true);
        for (var i = 0; i < 1000; i++)
        {
            await p.StandardInput.WriteLineAsync(i % 100 == 0 ? "{not a log line" : Senders.AccessLine("pg", i));
        }

        p.StandardInput.Close();
        Assert.Equal(0, await p.WaitForExitAsync(TimeSpan.FromSeconds(90)));
        await using var logs = Conveyor.Logs.Query.LogStore.Open(store);
        var events = await logs.CountAsync(new Conveyor.Logs.Query.LogQuery("*"));
        var dead = await logs.CountAsync(new Conveyor.Logs.Query.LogQuery("*", DeadLetters: true));
        Assert.Equal((990L, 10L), (events, dead));
    }
}
