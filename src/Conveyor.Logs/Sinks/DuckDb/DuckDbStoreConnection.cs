using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using DuckDB.NET.Data;

namespace Conveyor.Logs.Sinks.DuckDb;

/// <summary>
/// A read-write connection to a store file: the database instance is one of its own (see <see cref="InstanceFile"/>), and each
/// connection attaches the file to it (<c>ATTACH … AS store</c>, once per instance) and makes it the default
/// (<c>USE store</c>), so every statement names its tables as before.
/// </summary>
/// <remarks>
/// <para><b>Why attach instead of opening the file.</b> DuckDB takes a row group size only as an <c>ATTACH</c> option.
/// A transaction that appends at least one whole row group is written by the appending connection itself (DuckDB's
/// optimistic writes: compressed into the file while it appends, in parallel with the other writer) and its commit
/// only links the written blocks in. A smaller one goes to the write-ahead log and is compressed again, alone, by a
/// later checkpoint under the commit lock. With DuckDB's default of 122,880 rows no batch the pipeline holds in memory
/// is that large; with <see cref="RowGroupSize"/> rows every full sink batch (the sink's default batch size is the
/// same number) is one row group. Measured (docs/BENCHMARKS.md, "Row groups a batch fills"): the writers spike 1.6–1.8×
/// the rows/s at 0.7× the CPU; TCP → duckdb through the service 1.2–1.3× the lines/s.</para>
/// <para><b>Blocks.</b> Each transaction that writes its own row group leaves its last block partly filled; with
/// DuckDB's 256 KiB blocks that cost ~70 % more disk per row, with <see cref="NewFileBlockSize"/> nothing measurable.
/// A file's block size is fixed when it is created, so only a new file gets the smaller blocks (an older file keeps its
/// own, and DuckDB refuses a different one).</para>
/// <para><b>What holds.</b> One instance per file path in this process: DuckDB.NET shares an instance per connection
/// string, and the instance's file (<see cref="InstanceFile"/>) is derived from the full path. A read-only open of the same path in this process goes through
/// that instance while a writer has it open (<see cref="TryGetWriter"/>), never a second instance on a file being written.</para>
/// </remarks>
internal sealed class DuckDbStoreConnection(string connectionString, string path) : DuckDBConnection(connectionString)
{
    /// <summary>Rows per row group of an attached store (a multiple of DuckDB's 2,048-row vectors).</summary>
    public const int RowGroupSize = 16_384;

    /// <summary>The block size a new store file is created with: 64 KiB.</summary>
    public const int NewFileBlockSize = 64 << 10;

    /// <summary>The alias the file is attached as.</summary>
    public const string Alias = "store";

    // Full path → the writer's connection string, while a sink holds the store open in this process.
    private static readonly ConcurrentDictionary<string, string> Writers = new(StringComparer.Ordinal);

    /// <summary>The attached file's full path.</summary>
    public string StorePath { get; } = path;

    /// <summary>
    /// The instance's own database file for <paramref name="path"/> (a full path), which holds nothing: DuckDB.NET
    /// opens either a file or an in-memory database that is isolated per connection or one shared by the whole
    /// process, and an instance per store is what keeps each store's memory limit and threads its own. It lives in the
    /// temporary folder, named after the store's path and this process (a second process writing the same store then
    /// fails on the store's lock, naming the store), and is deleted when the sink closes.
    /// </summary>
    public static string InstanceFile(string path) => System.IO.Path.Combine(
        System.IO.Path.GetTempPath(),
        "conveyor-duckdb",
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(path)))[..24] + "-" + Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture) + ".instance.duckdb");

    /// <summary>Deletes the instance file of <paramref name="path"/> (and its log), once the sink's connections are closed.</summary>
    public static void DeleteInstanceFile(string path)
    {
        var file = InstanceFile(path);
        foreach (var f in new[] { file, file + ".wal" })
        {
            try
            {
                File.Delete(f);
            }
            catch (IOException)
            {
                // Left for the temporary folder's cleaning; it holds no data.
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
    }

    /// <summary>Records that a sink writes <paramref name="path"/> through <paramref name="writerConnectionString"/>.</summary>
    public static void RegisterWriter(string path, string writerConnectionString) => Writers[path] = writerConnectionString;

    /// <summary>Forgets the writer of <paramref name="path"/>.</summary>
    public static void UnregisterWriter(string path) => Writers.TryRemove(path, out _);

    /// <summary>The connection string of the sink writing <paramref name="path"/> in this process, if one is open.</summary>
    public static bool TryGetWriter(string path, out string connectionString) => Writers.TryGetValue(path, out connectionString!);

    public override void Open()
    {
        base.Open();
        try
        {
            // IF NOT EXISTS: the first connection of the instance attaches the file, later ones find it attached. The
            // storage format and block size are a new file's; an existing file keeps its own (a storage version given
            // for an older file would be taken as the file's, and ZSTD then written where it cannot be read back).
            var options = $"ROW_GROUP_SIZE {RowGroupSize}"
                + (File.Exists(StorePath) ? string.Empty : $", STORAGE_VERSION '{DuckDbSchema.StorageVersion}', BLOCK_SIZE {NewFileBlockSize}");
            DuckDbSchema.Execute(this, $"ATTACH IF NOT EXISTS '{StorePath.Replace("'", "''", StringComparison.Ordinal)}' AS {Alias} ({options}); USE {Alias}");
        }
        catch
        {
            Close();
            throw;
        }
    }

    public override Task OpenAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Open();
        return Task.CompletedTask;
    }
}
