using System.Buffers.Binary;
using Conveyor.Durable;

namespace Conveyor.Tests.Durable;

/// <summary>A fresh buffer directory per test, removed afterwards, and records that carry their own id.</summary>
public abstract class DiskBufferFixture : IDisposable
{
    protected DiskBufferFixture()
    {
        Root = Path.Combine(Path.GetTempPath(), "conveyor-disk-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Root);
    }

    protected string Root { get; }

    protected DiskBufferOptions Options(Action<DiskBufferOptions>? tweak = null)
    {
        var options = new DiskBufferOptions { Directory = Root, SegmentBytes = 64 << 10, MaxDiskBytes = 64L << 20 };
        tweak?.Invoke(options);
        return options;
    }

    protected DiskBuffer Open(Action<DiskBufferOptions>? tweak = null) => DiskBuffer.Open(Options(tweak));

    /// <summary>A record of <paramref name="size"/> bytes (at least 8) whose first 8 bytes are <paramref name="id"/> and the rest derived from it.</summary>
    protected static byte[] Record(long id, int size = 32)
    {
        var bytes = new byte[Math.Max(8, size)];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, id);
        for (var i = 8; i < bytes.Length; i++)
        {
            bytes[i] = (byte)(id * 31 + i);
        }

        return bytes;
    }

    /// <summary>The id of a record made by <see cref="Record"/>, after checking that the rest of it is intact.</summary>
    protected static long IdOf(ReadOnlyMemory<byte> payload)
    {
        var span = payload.Span;
        var id = BinaryPrimitives.ReadInt64LittleEndian(span);
        for (var i = 8; i < span.Length; i++)
        {
            Assert.Equal((byte)(id * 31 + i), span[i]);
        }

        return id;
    }

    protected static List<DiskRecord> ReadAvailable(DiskBuffer buffer, int max = int.MaxValue)
    {
        var records = new List<DiskRecord>();
        while (records.Count < max && buffer.TryRead(out var r))
        {
            records.Add(r);
        }

        return records;
    }

    protected string[] SegmentFiles() => [.. Directory.GetFiles(Root, "*.seg").Order()];

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }
}
