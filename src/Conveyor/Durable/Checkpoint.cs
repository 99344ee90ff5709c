using System.Buffers.Binary;

namespace Conveyor.Durable;

/// <summary>
/// The acknowledgement state, rewritten (temporary file, then rename) at most once per fsync interval and on close:
/// every record below <see cref="ReadNext"/> was acknowledged except those listed in <see cref="InFlight"/>. It only
/// ever claims what was true when written, so a stale or lost checkpoint replays acknowledged records again (the
/// stores' idempotency removes them) and never skips one that was not acknowledged. <see cref="NextSequence"/>
/// keeps sequences from being reused after a crash that cut records off the end.
/// </summary>
internal sealed record Checkpoint(long NextSequence, long ReadNext, IReadOnlyList<long> InFlight)
{
    public const string FileName = "checkpoint";
    private const uint Magic = 0x4B435643; // "CVCK"
    private const int Version = 1;

    public bool IsLive(long sequence, HashSet<long> inFlight) => sequence >= ReadNext || inFlight.Contains(sequence);

    public void Write(string directory)
    {
        var bytes = new byte[8 + 8 + 8 + 4 + (8 * InFlight.Count) + 4];
        var span = bytes.AsSpan();
        BinaryPrimitives.WriteUInt32LittleEndian(span, Magic);
        BinaryPrimitives.WriteInt32LittleEndian(span[4..], Version);
        BinaryPrimitives.WriteInt64LittleEndian(span[8..], NextSequence);
        BinaryPrimitives.WriteInt64LittleEndian(span[16..], ReadNext);
        BinaryPrimitives.WriteInt32LittleEndian(span[24..], InFlight.Count);
        for (var i = 0; i < InFlight.Count; i++)
        {
            BinaryPrimitives.WriteInt64LittleEndian(span[(28 + (8 * i))..], InFlight[i]);
        }

        BinaryPrimitives.WriteUInt32LittleEndian(span[^4..], ~Crc32C.Update(uint.MaxValue, span[..^4]));
        var path = Path.Combine(directory, FileName);
        var temporary = path + ".tmp";
        File.WriteAllBytes(temporary, bytes);
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>Reads the checkpoint; null when there is none or it is damaged (<paramref name="problem"/> says which).</summary>
    public static Checkpoint? Read(string directory, out string? problem)
    {
        problem = null;
        var path = Path.Combine(directory, FileName);
        if (!File.Exists(path))
        {
            return null;
        }

        var bytes = File.ReadAllBytes(path);
        var span = bytes.AsSpan();
        if (span.Length < 32 || BinaryPrimitives.ReadUInt32LittleEndian(span) != Magic || BinaryPrimitives.ReadInt32LittleEndian(span[4..]) != Version)
        {
            problem = $"checkpoint '{path}' is not a version {Version} checkpoint";
            return null;
        }

        var count = BinaryPrimitives.ReadInt32LittleEndian(span[24..]);
        if (count < 0 || span.Length != 32 + (8L * count) || BinaryPrimitives.ReadUInt32LittleEndian(span[^4..]) != ~Crc32C.Update(uint.MaxValue, span[..^4]))
        {
            problem = $"checkpoint '{path}' is damaged (length or checksum)";
            return null;
        }

        var inFlight = new long[count];
        for (var i = 0; i < count; i++)
        {
            inFlight[i] = BinaryPrimitives.ReadInt64LittleEndian(span[(28 + (8 * i))..]);
        }

        return new Checkpoint(BinaryPrimitives.ReadInt64LittleEndian(span[8..]), BinaryPrimitives.ReadInt64LittleEndian(span[16..]), inFlight);
    }
}
