using System.Diagnostics;
using Npgsql;

namespace Conveyor.Logs.Tests.Support;

/// <summary>
/// The throwaway servers test.sh starts. Tests needing one fail (never skip) when it is not configured, and each
/// test gets its own schema so tests run in parallel without seeing each other's rows. Tests that stop and restart
/// a server use <see cref="Outage"/>, a server of their own, so that other test assemblies running at the same time
/// never see an outage they did not ask for.
/// </summary>
internal static class PostgresTestServer
{
    /// <summary>The server shared by every test that only reads and writes.</summary>
    public static readonly PgInstance Shared = new("CONVEYOR_TEST");

    /// <summary>The server that outage tests stop and start.</summary>
    public static readonly PgInstance Outage = new("CONVEYOR_TEST_OUTAGE");

    public static string ConnectionString => Shared.ConnectionString;

    /// <summary>Creates a fresh schema and returns a connection string whose search path is that schema.</summary>
    public static async Task<string> CreateSchemaAsync(PgInstance? on = null)
    {
        var schema = "t_" + Guid.NewGuid().ToString("N")[..16];
        await using (var c = new NpgsqlConnection((on ?? Shared).ConnectionString))
        {
            await c.OpenAsync();
            await using var cmd = new NpgsqlCommand($"CREATE SCHEMA {schema}", c);
            await cmd.ExecuteNonQueryAsync();
        }

        return new NpgsqlConnectionStringBuilder((on ?? Shared).ConnectionString) { SearchPath = schema }.ConnectionString;
    }

    public static async Task<long> ScalarAsync(string connectionString, string sql)
    {
        await using var c = new NpgsqlConnection(connectionString);
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, c);
        return Convert.ToInt64(await cmd.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    public static Task<bool> IsUpAsync() => IsUpAsync(Shared);

    public static async Task<bool> IsUpAsync(PgInstance on)
    {
        try
        {
            await ScalarAsync(new NpgsqlConnectionStringBuilder(on.ConnectionString) { Pooling = false, Timeout = 2 }.ConnectionString, "SELECT 1");
            return true;
        }
        catch (Exception e) when (e is NpgsqlException or System.Net.Sockets.SocketException or TimeoutException)
        {
            return false;
        }
    }

    /// <summary>Stops (fast shutdown) or starts the server through pg_ctl, as test.sh documents.</summary>
    public static async Task PgCtlAsync(bool start, PgInstance on)
    {
        var ctl = PgInstance.Env("CONVEYOR_TEST_PG_CTL");
        var data = on.Env("PG_DATA", prefixed: true);
        var psi = new ProcessStartInfo("runuser") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "-u", "postgres", "--", ctl, "-D", data, "-w" })
        {
            psi.ArgumentList.Add(a);
        }

        if (start)
        {
            foreach (var a in new[] { "-l", Path.Combine(data, "..", "pg.log"), "-o", on.Env("PG_OPTS", prefixed: true), "start" })
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

/// <summary>One throwaway server, described by test.sh's environment variables under <paramref name="Prefix"/>.</summary>
internal sealed record PgInstance(string Prefix)
{
    public string ConnectionString => Env(Prefix + "_POSTGRES");

    public string Env(string suffix, bool prefixed) => Env(prefixed ? $"{Prefix}_{suffix}" : suffix);

    public static string Env(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } v
        ? v
        : throw new InvalidOperationException($"{name} is not set: run the tests through ./test.sh, which starts throwaway PostgreSQL servers and exports them.");
}
