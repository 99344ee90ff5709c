using System.Buffers.Binary;
using System.Text;

using Conveyor.Logs.Model;

namespace Conveyor.Logs.Pipeline;

/// <summary>
/// A <see cref="RawLine"/> as a disk buffer record: <c>version u8 | receivedAt utc ticks i64 | offset minutes i16 |
/// source name, id, refusal (each u16 length + UTF-8; refusal length 0xFFFF when none) | data</c>. The source is
/// stored by name and found again on replay, so a line replayed after a restart is parsed by its source's parser.
/// </summary>
public static class RawLineCodec
{
    private const byte Version = 1;
    private const ushort NoRefusal = ushort.MaxValue;

    /// <summary>Encodes <paramref name="line"/>.</summary>
    public static byte[] Encode(RawLine line)
    {
        var source = Encoding.UTF8.GetByteCount(line.Source.Name);
        var id = Encoding.UTF8.GetByteCount(line.Id);
        var refusal = line.Refusal is null ? 0 : Encoding.UTF8.GetByteCount(line.Refusal);
        var bytes = new byte[1 + 8 + 2 + 2 + source + 2 + id + 2 + refusal + line.Data.Length];
        var span = bytes.AsSpan();
        span[0] = Version;
        BinaryPrimitives.WriteInt64LittleEndian(span[1..], line.ReceivedAt.UtcTicks);
        BinaryPrimitives.WriteInt16LittleEndian(span[9..], (short)line.ReceivedAt.Offset.TotalMinutes);
        var at = 11;
        at = WriteString(span, at, line.Source.Name, source);
        at = WriteString(span, at, line.Id, id);
        if (line.Refusal is null)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(span[at..], NoRefusal);
            at += 2;
        }
        else
        {
            at = WriteString(span, at, line.Refusal, refusal);
        }

        line.Data.CopyTo(span[at..]);
        return bytes;
    }

    /// <summary>Decodes a record made by <see cref="Encode"/>; <paramref name="source"/> finds the source by name.</summary>
    /// <exception cref="InvalidDataException">The record is not an encoded line.</exception>
    public static RawLine Decode(ReadOnlySpan<byte> record, Func<string, SourceInfo> source)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (record.Length < 17 || record[0] != Version)
        {
            throw new InvalidDataException($"Not a version {Version} line record ({record.Length} bytes).");
        }

        var ticks = BinaryPrimitives.ReadInt64LittleEndian(record[1..]);
        var offset = TimeSpan.FromMinutes(BinaryPrimitives.ReadInt16LittleEndian(record[9..]));
        var at = 11;
        var name = ReadString(record, ref at) ?? throw new InvalidDataException("A line record without a source.");
        var id = ReadString(record, ref at) ?? throw new InvalidDataException("A line record without an id.");
        var refusal = ReadString(record, ref at);
        var receivedAt = new DateTimeOffset(ticks + offset.Ticks, offset);
        return new RawLine(record[at..].ToArray(), source(name), id, receivedAt, refusal);
    }

    private static int WriteString(Span<byte> span, int at, string value, int length)
    {
        if (length >= NoRefusal)
        {
            throw new ArgumentException($"A line's source, id or refusal is {length} bytes; at most {NoRefusal - 1} fit a record.", nameof(value));
        }

        BinaryPrimitives.WriteUInt16LittleEndian(span[at..], (ushort)length);
        Encoding.UTF8.GetBytes(value, span[(at + 2)..]);
        return at + 2 + length;
    }

    private static string? ReadString(ReadOnlySpan<byte> record, ref int at)
    {
        if (record.Length - at < 2)
        {
            throw new InvalidDataException("A line record is cut short.");
        }

        var length = BinaryPrimitives.ReadUInt16LittleEndian(record[at..]);
        at += 2;
        if (length == NoRefusal)
        {
            return null;
        }

        if (record.Length - at < length)
        {
            throw new InvalidDataException("A line record is cut short.");
        }

        var value = Encoding.UTF8.GetString(record.Slice(at, length));
        at += length;
        return value;
    }
}
