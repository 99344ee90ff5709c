using System.Buffers;
using Microsoft.Win32.SafeHandles;

namespace Conveyor.Durable;

/// <summary>
/// Reads a whole segment file and splits it into valid records and damaged regions: the one scan behind recovery,
/// <c>verify</c> and <c>inspect</c>. A region starts at the first byte that is not a valid record and ends at the
/// next valid record (found by its marker and whole checksum) or at the end of the file.
/// </summary>
internal static class SegmentScanner
{
    internal readonly record struct Found(int Offset, int Size, long Sequence);

    internal readonly record struct Damage(int Offset, int Length, string Reason);

    internal sealed class Scan(byte[] data, int length) : IDisposable
    {
        public byte[] Data { get; private set; } = data;

        public int Length { get; } = length;

        public List<Found> Records { get; } = [];

        public List<Damage> Damaged { get; } = [];

        public ReadOnlySpan<byte> Bytes => Data.AsSpan(0, Length);

        public void Dispose()
        {
            if (Data.Length > 0)
            {
                ArrayPool<byte>.Shared.Return(Data);
                Data = [];
            }
        }
    }

    /// <summary>Reads and scans <paramref name="path"/>; the caller disposes the result to return its buffer.</summary>
    /// <exception cref="IOException">The file cannot be read, or is larger than one array can hold.</exception>
    public static Scan ReadAndScan(string path)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        var size = RandomAccess.GetLength(handle);
        if (size > Array.MaxLength)
        {
            throw new IOException($"Segment '{path}' is {size} bytes, more than one scan can hold.");
        }

        var data = ArrayPool<byte>.Shared.Rent((int)size);
        var length = ReadFully(handle, data.AsSpan(0, (int)size), 0);
        var scan = new Scan(data, length);
        ScanInto(scan);
        return scan;
    }

    public static int ReadFully(SafeFileHandle handle, Span<byte> destination, long offset)
    {
        var total = 0;
        while (total < destination.Length)
        {
            var n = RandomAccess.Read(handle, destination[total..], offset + total);
            if (n == 0)
            {
                break;
            }

            total += n;
        }

        return total;
    }

    private static void ScanInto(Scan scan)
    {
        var data = scan.Bytes;
        const int max = int.MaxValue - RecordFormat.HeaderSize;
        var at = 0;
        while (at < data.Length)
        {
            var status = RecordFormat.Parse(data[at..], max, out var sequence, out var size, out var problem);
            if (status == ParseStatus.Valid)
            {
                scan.Records.Add(new Found(at, size, sequence));
                at += size;
                continue;
            }

            var next = RecordFormat.FindNextValid(data, at + 1, max);
            var end = next < 0 ? data.Length : next;
            var reason = next < 0 && status == ParseStatus.Incomplete ? $"torn write at the end of the file: {problem}" : problem!;
            scan.Damaged.Add(new Damage(at, end - at, reason));
            at = end;
        }
    }
}
