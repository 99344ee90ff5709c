using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.InteropServices;

namespace Conveyor.Durable;

/// <summary>
/// The on-disk record: <c>magic u32 | length u32 | sequence u64 | crc32c u32 | payload</c>, little-endian, no padding.
/// The checksum covers length, sequence and payload, so a flipped bit anywhere but in the magic is caught by the
/// checksum, and a flipped magic is caught by the magic. The magic lets a scan find the next record after a damaged
/// one; a candidate only counts when its whole checksum matches, so payload bytes that look like a magic are harmless.
/// </summary>
internal static class RecordFormat
{
    public const int HeaderSize = 20;
    public const uint Magic = 0x4C525643; // "CVRL" read as little-endian bytes

    private static ReadOnlySpan<byte> MagicBytes => "CVRL"u8;

    /// <summary>The encoded size of a record of <paramref name="payloadLength"/> bytes.</summary>
    public static long EncodedSize(int payloadLength) => HeaderSize + (long)payloadLength;

    /// <summary>Writes the record into <paramref name="destination"/>, which has room for <see cref="EncodedSize"/> bytes.</summary>
    public static void Encode(Span<byte> destination, long sequence, ReadOnlySpan<byte> payload)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(destination, Magic);
        BinaryPrimitives.WriteInt32LittleEndian(destination[4..], payload.Length);
        BinaryPrimitives.WriteInt64LittleEndian(destination[8..], sequence);
        payload.CopyTo(destination[HeaderSize..]);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[16..], Checksum(destination[4..16], payload));
    }

    /// <summary>
    /// Parses the record at the start of <paramref name="data"/>. <see cref="ParseStatus.Incomplete"/> means the
    /// span ends inside the record (<paramref name="size"/> says how many bytes it needs, or the header size when
    /// even the header is cut); <see cref="ParseStatus.Corrupt"/> means these bytes are not a valid record.
    /// </summary>
    public static ParseStatus Parse(ReadOnlySpan<byte> data, int maxPayload, out long sequence, out int size, out string? problem)
    {
        sequence = 0;
        size = HeaderSize;
        problem = null;
        if (data.Length < HeaderSize)
        {
            problem = $"a record header is cut short ({data.Length} of {HeaderSize} bytes)";
            return ParseStatus.Incomplete;
        }

        if (BinaryPrimitives.ReadUInt32LittleEndian(data) != Magic)
        {
            problem = "no record marker";
            return ParseStatus.Corrupt;
        }

        var length = BinaryPrimitives.ReadInt32LittleEndian(data[4..]);
        if (length < 0 || length > maxPayload)
        {
            problem = $"record length {length} is outside 0..{maxPayload}";
            return ParseStatus.Corrupt;
        }

        size = HeaderSize + length;
        if (data.Length < size)
        {
            problem = $"a record is cut short ({data.Length} of {size} bytes)";
            return ParseStatus.Incomplete;
        }

        var stored = BinaryPrimitives.ReadUInt32LittleEndian(data[16..]);
        if (stored != Checksum(data[4..16], data.Slice(HeaderSize, length)))
        {
            problem = "checksum mismatch";
            return ParseStatus.Corrupt;
        }

        sequence = BinaryPrimitives.ReadInt64LittleEndian(data[8..]);
        return ParseStatus.Valid;
    }

    /// <summary>
    /// The offset of the first valid record at or after <paramref name="from"/>, or -1: candidates are found by their
    /// magic and accepted only when they parse whole, so a scan through damaged bytes resumes at a real record.
    /// </summary>
    public static int FindNextValid(ReadOnlySpan<byte> data, int from, int maxPayload)
    {
        var at = from;
        while (at < data.Length)
        {
            var hit = data[at..].IndexOf(MagicBytes);
            if (hit < 0)
            {
                return -1;
            }

            at += hit;
            if (Parse(data[at..], maxPayload, out _, out _, out _) == ParseStatus.Valid)
            {
                return at;
            }

            at++;
        }

        return -1;
    }

    /// <summary>CRC-32C (Castagnoli) of the header fields then the payload, hardware-accelerated where the CPU has it.</summary>
    public static uint Checksum(ReadOnlySpan<byte> headerFields, ReadOnlySpan<byte> payload) =>
        ~Crc32C.Update(Crc32C.Update(uint.MaxValue, headerFields), payload);
}

/// <summary>The outcome of <see cref="RecordFormat.Parse"/>.</summary>
internal enum ParseStatus
{
    Valid,
    Incomplete,
    Corrupt,
}

/// <summary>
/// CRC-32C over <see cref="BitOperations.Crc32C(uint, ulong)"/>, which the JIT turns into the SSE4.2 / ARMv8 CRC
/// instruction (with a table fallback elsewhere): System.IO.Hashing has only CRC-32 (IEEE) and CRC-64, not CRC-32C.
/// </summary>
internal static class Crc32C
{
    /// <summary>Feeds <paramref name="data"/> into a running (non-inverted) CRC state.</summary>
    public static uint Update(uint crc, ReadOnlySpan<byte> data)
    {
        var words = MemoryMarshal.Cast<byte, ulong>(data);
        foreach (var word in words)
        {
            crc = BitOperations.Crc32C(crc, BitConverter.IsLittleEndian ? word : BinaryPrimitives.ReverseEndianness(word));
        }

        foreach (var b in data[(words.Length * sizeof(ulong))..])
        {
            crc = BitOperations.Crc32C(crc, b);
        }

        return crc;
    }
}
