using Microsoft.Win32.SafeHandles;

namespace Conveyor.Durable;

/// <summary>
/// One segment file. Its name is the sequence its first record was given (20 digits), so names sort in write order.
/// Fields are guarded by the buffer's lock except <see cref="Handle"/>, which the flusher opens once and which is
/// closed only after the segment left the buffer's list.
/// </summary>
internal sealed class Segment(long id, string path)
{
    public const string Extension = ".seg";

    public long Id { get; } = id;

    public string Path { get; } = path;

    public string Name => System.IO.Path.GetFileName(Path);

    public SafeFileHandle? Handle { get; set; }

    /// <summary>Bytes admitted into the segment, written or waiting for the flusher.</summary>
    public long Length { get; set; }

    /// <summary>Bytes durable under the fsync policy: readers see records up to here.</summary>
    public long Durable { get; set; }

    /// <summary>The sequence of the last record admitted; -1 while empty.</summary>
    public long LastSequence { get; set; } = -1;

    /// <summary>True once no more records will be appended (a later segment exists).</summary>
    public bool Sealed { get; set; }

    public static string FileName(long id) => id.ToString("D20", System.Globalization.CultureInfo.InvariantCulture) + Extension;

    public static bool TryParseId(string fileName, out long id)
    {
        id = 0;
        return fileName.Length == 20 + Extension.Length
            && fileName.EndsWith(Extension, StringComparison.Ordinal)
            && long.TryParse(fileName.AsSpan(0, 20), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out id);
    }
}
