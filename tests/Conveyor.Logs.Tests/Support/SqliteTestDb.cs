using Conveyor.Logs.Sinks.Sqlite;
using Microsoft.Data.Sqlite;

namespace Conveyor.Logs.Tests.Support;

/// <summary>Reads a SQLite store directly, read-only.</summary>
internal static class SqliteTestDb
{
    public static long Scalar(string path, string sql)
    {
        using var c = new SqliteConnection(SqliteSink.ConnectionString(path, SqliteOpenMode.ReadOnly));
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        return Convert.ToInt64(cmd.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }
}
