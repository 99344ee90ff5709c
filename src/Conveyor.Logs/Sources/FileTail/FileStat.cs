using Mono.Unix.Native;

namespace Conveyor.Logs.Sources.FileTail;

/// <summary>What a path is, as the file tail needs to know it before opening anything.</summary>
internal enum FileKind
{
    /// <summary>A regular file: the only kind tailed.</summary>
    Regular,

    /// <summary>A directory, FIFO, socket or device: opening a FIFO would block the tail, a device never ends.</summary>
    Other,

    /// <summary>Gone between listing and stat.</summary>
    Missing,
}

/// <summary>
/// A file's identity, kind and size from <c>stat(2)</c> (through Mono.Unix; .NET has no inode API). The identity is
/// the device and inode, which a rename keeps and a new file at the same path does not; an inode number can be reused
/// after a delete, so the tail pairs it with a fingerprint of the first bytes, as Vector and Filebeat do. Where
/// <c>stat</c> is unavailable (Windows) the identity falls back to the path, and rotation is recognised by the
/// fingerprint alone.
/// </summary>
internal readonly record struct FileStat(string Identity, FileKind Kind, long Size)
{
    private static readonly bool HasStat = !OperatingSystem.IsWindows();

    /// <summary>Stats <paramref name="path"/>, following links.</summary>
    public static FileStat Of(string path)
    {
        if (!HasStat)
        {
            var info = new FileInfo(path);
            return info.Exists ? new FileStat("path:" + path, FileKind.Regular, info.Length) : new FileStat(string.Empty, FileKind.Missing, 0);
        }

        if (Syscall.stat(path, out var st) != 0)
        {
            return new FileStat(string.Empty, FileKind.Missing, 0);
        }

        var kind = (st.st_mode & FilePermissions.S_IFMT) == FilePermissions.S_IFREG ? FileKind.Regular : FileKind.Other;
        return new FileStat(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{st.st_dev}:{st.st_ino}"), kind, st.st_size);
    }
}
