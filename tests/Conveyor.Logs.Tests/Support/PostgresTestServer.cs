using System.Diagnostics;
using Npgsql;

namespace Conveyor.Logs.Tests.Support;

/// <summary>
/// The throwaway server test.sh starts. Tests needing it fail (never skip) when it is not configured, and each
/// test gets its own schema so tests run in parallel without seeing each other's rows.
/// </summary>
internal static class PostgresTestServer
{
    public static string ConnectionString =>
        Environment.GetEnvironmentVariable("CONVEYOR_TEST_POSTGRES") is { Length: > 0 } cs
            ? cs
            : throw new InvalidOperationException(
                "CONVEYOR_TEST_POSTGRES is not set: run the tests through ./test.sh, which starts a throwaway PostgreSQL and exports it.");

    /// <summary>Creates a fresh schema and returns a connection string whose search path is that schema.</summary>
    public static async Task<string> CreateSchemaAsync()
    {
        var schema = "t_" + Guid.NewGuid().ToString("N")[..16];
        await using (var c = new NpgsqlConnection(ConnectionString))
        {
            await c.OpenAsync();
            await using var cmd = new NpgsqlCommand($"CREATE SCHEMA {schema}", c);
            await cmd.ExecuteNonQueryAsync();
        }

        return new NpgsqlConnectionStringBuilder(ConnectionString) { SearchPath = schema }.ConnectionString;
    }

    public static async Task<long> ScalarAsync(string connectionString, string sql)
    {
        await using var c = new NpgsqlConnection(connectionString);
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, c);
        return Convert.ToInt64(await cmd.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    public static async Task<bool> IsUpAsync()
    {
        try
        {
            await ScalarAsync(new NpgsqlConnectionStringBuilder(ConnectionString) { Pooling = false, Timeout = 2 }.ConnectionString, "SELECT 1");
            return true;
        }
        catch (Exception e) when (e is NpgsqlException or System.Net.Sockets.SocketException or TimeoutException)
        {
            return false;
        }
    }

    /// <summary>Stops (fast shutdown) or starts the server through pg_ctl, as test.sh documents.</summary>
    public static async Task PgCtlAsync(bool start)
    {
        string Env(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } v
            ? v
            : throw new InvalidOperationException($"{name} is not set: run the tests through ./test.sh.");
        var ctl = Env("CONVEYOR_TEST_PG_CTL");
        var data = Env("CONVEYOR_TEST_PG_DATA");
        var psi = new ProcessStartInfo("runuser") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "-u", "postgres", "--", ctl, "-D", data, "-w" })
        {
            psi.ArgumentList.Add(a);
        }

        if (start)
        {
            foreach (var a in new[] { "-l", Path.Combine(data, "..", "pg.log"), "-o", Env("CONVEYOR_TEST_PG_OPTS"), "start" })
            {
                psi.ArgumentList.Add(a);
            }
        }
        else
        {
            foreach (var a in new[] { "-m", "fast", "stop" })
            {
                psi.ArgumentList.Add(a);
            }
        }

        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        await p.StandardOutput.ReadToEndAsync();
        await p.WaitForExitAsync();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"pg_ctl {(start ? "start" : "stop")} failed ({p.ExitCode}): {await stderr}");
        }
    }
}
