using System.Globalization;
using DuckDB.NET.Data;

namespace Conveyor.Logs.Sinks.DuckDb;

/// <summary>Parquet export of a DuckDB store, which DuckDB writes natively (<c>conveyor store export --format parquet</c>).</summary>
public static class DuckDbParquet
{
    /// <summary>
    /// Writes the events of the closed (or this process's) DuckDB database at <paramref name="databasePath"/> in
    /// [<paramref name="since"/>, <paramref name="until"/>) to <paramref name="target"/> as zstd-compressed Parquet, every
    /// column as stored, oldest first.
    /// </summary>
    /// <returns>The number of events written.</returns>
    /// <exception cref="DuckDBException">The database cannot be read or the file written.</exception>
    public static long Export(string databasePath, string target, DateTimeOffset? since, DateTimeOffset? until)
    {
        ArgumentNullException.ThrowIfNull(databasePath);
        ArgumentNullException.ThrowIfNull(target);
        var defaults = new DuckDbSinkOptions();
        using var connection = DuckDbSink.NewConnection(Path.GetFullPath(databasePath), defaults.MemoryLimit, defaults.Threads, readOnly: true);
        connection.Open();
        using var cmd = connection.CreateCommand();
        var where = new List<string>();
        if (since is { } f)
        {
            where.Add("ts >= $since");
            cmd.Parameters.Add(new DuckDBParameter("since", f.UtcDateTime));
        }

        if (until is { } t)
        {
            where.Add("ts < $until");
            cmd.Parameters.Add(new DuckDBParameter("until", t.UtcDateTime));
        }

        // COPY cannot bind its file name: it is quoted as an SQL string literal instead.
        var file = "'" + Path.GetFullPath(target).Replace("'", "''", StringComparison.Ordinal) + "'";
        cmd.CommandText = "COPY (SELECT * FROM events" + (where.Count > 0 ? " WHERE " + string.Join(" AND ", where) : string.Empty)
            + " ORDER BY ts, rowid) TO " + file + " (FORMAT parquet, COMPRESSION zstd)";
        cmd.ExecuteNonQuery();

        // What was written, counted from the file itself.
        using var count = connection.CreateCommand();
        count.CommandText = "SELECT count(*) FROM read_parquet(" + file + ")";
        return Convert.ToInt64(count.ExecuteScalar(), CultureInfo.InvariantCulture);
    }
}
