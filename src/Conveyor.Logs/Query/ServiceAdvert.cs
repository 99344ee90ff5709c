using System.Diagnostics;
using System.Text.Json;

namespace Conveyor.Logs.Query;

/// <summary>
/// The small file a running <c>conveyor run</c> writes beside a DuckDB store it holds (<c>STORE.service.json</c>:
/// <c>{"url": "http://127.0.0.1:8080", "pid": 1234}</c>), so <c>conveyor query</c> in another process can search
/// through its <c>/api/search</c>: DuckDB admits one process per file. The service removes it on stop; one left by a
/// process that died is stale and ignored.
/// </summary>
/// <param name="Url">The service's HTTP base address.</param>
/// <param name="Pid">The process that wrote it.</param>
public sealed record ServiceAdvert(string Url, int Pid)
{
    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>The advert file of the store at <paramref name="storePath"/>.</summary>
    public static string PathFor(string storePath) => Path.GetFullPath(storePath) + ".service.json";

    /// <summary>Writes the advert for this process (atomically: a reader never sees half a file).</summary>
    public static void Write(string storePath, string url)
    {
        var path = PathFor(storePath);
        var temp = path + ".tmp";
        File.WriteAllText(temp, JsonSerializer.Serialize(new ServiceAdvert(url, Environment.ProcessId), Json));
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>Removes the advert when this process wrote it.</summary>
    public static void Remove(string storePath)
    {
        var path = PathFor(storePath);
        if (TryRead(path) is { } advert && advert.Pid == Environment.ProcessId)
        {
            File.Delete(path);
        }
    }

    /// <summary>The advert of a live process beside <paramref name="storePath"/>, or null (none, unreadable, or stale).</summary>
    public static ServiceAdvert? FindLive(string storePath)
    {
        var advert = TryRead(PathFor(storePath));
        return advert is not null && IsAlive(advert.Pid) ? advert : null;
    }

    private static ServiceAdvert? TryRead(string path)
    {
        try
        {
            return File.Exists(path) ? JsonSerializer.Deserialize<ServiceAdvert>(File.ReadAllText(path), Json) : null;
        }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static bool IsAlive(int pid)
    {
        try
        {
            using var p = Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}
