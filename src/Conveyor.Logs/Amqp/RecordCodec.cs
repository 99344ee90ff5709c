using System.Buffers.Binary;
using System.Text;
using Conveyor.Logs.Model;

namespace Conveyor.Logs.Amqp;

/// <summary>The kind of one record inside a message.</summary>
public enum RecordKind : byte
{
    /// <summary>A line for the worker to parse.</summary>
    Raw = 1,

    /// <summary>A parsed, enriched event.</summary>
    Event = 2,

    /// <summary>A record already refused (by a source or a parser), kept with its reason.</summary>
    DeadLetter = 3,
}

/// <summary>
/// The body of one message: records one after the other, each <c>varint length, kind, id, source, time, payload</c>,
/// so a worker can split a message into records (and learn each one's id) without decoding the payloads.
/// </summary>
/// <remarks>
/// <para>Encoding version 1 (header <c>conveyor-encoding</c>). Strings are a varint byte count and UTF-8; times are
/// UTC ticks (int64) and an offset in minutes (int16), little-endian; an event's attributes keep their types
/// (string, int64, double, bool, null, list, map), so a decoded event equals the published one.</para>
/// <para>Payloads: raw = the line's bytes; event = presence flags, timestamp, severity, body, trace id, span id,
/// trace flags, event name, attributes, resource; dead letter = parser, reason, the raw line.</para>
/// <para>Record ids are the edge's, so a message redelivered after a worker died yields the same ids and the
/// idempotent stores keep one copy.</para>
/// </remarks>
public sealed class RecordWriter
{
    private byte[] _buffer;
    private int _length;
    private int _recordStart = -1;

    /// <summary>Creates a writer with room for <paramref name="capacity"/> bytes (it grows as needed).</summary>
    public RecordWriter(int capacity = 64 * 1024)
    {
        _buffer = new byte[Math.Max(capacity, 256)];
    }

    /// <summary>Records written since the last <see cref="Reset"/>.</summary>
    public int Count { get; private set; }

    /// <summary>Bytes written since the last <see cref="Reset"/>.</summary>
    public int Length => _length;

    /// <summary>The message body written so far.</summary>
    public ReadOnlyMemory<byte> Written => _buffer.AsMemory(0, _length);

    /// <summary>Starts a new message body.</summary>
    public void Reset()
    {
        _length = 0;
        Count = 0;
        _recordStart = -1;
    }

    /// <summary>Appends an event.</summary>
    public void WriteEvent(LogEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        Begin(RecordKind.Event, e.Id, e.Source, e.ObservedTimestamp);
        var flags = (e.Timestamp is null ? 0 : 1) | (e.SeverityText is null ? 0 : 2) | (e.TraceId is null ? 0 : 4)
            | (e.SpanId is null ? 0 : 8) | (e.TraceFlags is null ? 0 : 16) | (e.EventName is null ? 0 : 32) | (e.HasResource ? 64 : 0);
        WriteByte((byte)flags);
        if (e.Timestamp is { } ts)
        {
            WriteTime(ts);
        }

        WriteVarint((ulong)(uint)e.SeverityNumber);
        if (e.SeverityText is { } st)
        {
            WriteString(st);
        }

        WriteString(e.Body);
        if (e.TraceId is { } trace)
        {
            WriteString(trace);
        }

        if (e.SpanId is { } span)
        {
            WriteString(span);
        }

        if (e.TraceFlags is { } tf)
        {
            WriteVarint((ulong)(uint)tf);
        }

        if (e.EventName is { } name)
        {
            WriteString(name);
        }

        WriteAttributes(e.Attributes);
        if (e.HasResource)
        {
            WriteAttributes(e.Resource);
        }

        End();
    }

    /// <summary>Appends a line for the worker to parse.</summary>
    public void WriteRaw(string id, string source, DateTimeOffset receivedAt, string line)
    {
        ArgumentNullException.ThrowIfNull(line);
        Begin(RecordKind.Raw, id, source, receivedAt);
        var n = Encoding.UTF8.GetByteCount(line);
        Ensure(n);
        _length += Encoding.UTF8.GetBytes(line, _buffer.AsSpan(_length));
        End();
    }

    /// <summary>Appends a dead letter.</summary>
    public void WriteDeadLetter(DeadLetter d)
    {
        ArgumentNullException.ThrowIfNull(d);
        Begin(RecordKind.DeadLetter, d.Id, d.Source, d.Time);
        WriteString(d.Parser);
        WriteString(d.Reason);
        WriteString(d.RawLine);
        End();
    }

    private void Begin(RecordKind kind, string id, string source, DateTimeOffset time)
    {
        // The length prefix is reserved at its widest (5 bytes covers 4 GiB) and moved down at End once known.
        _recordStart = _length;
        Ensure(5);
        _length += 5;
        WriteByte((byte)kind);
        WriteString(id);
        WriteString(source);
        WriteTime(time);
    }

    private void End()
    {
        var payloadStart = _recordStart + 5;
        var payload = _length - payloadStart;
        Span<byte> prefix = stackalloc byte[5];
        var p = EncodeVarint(prefix, (ulong)payload);
        var gap = 5 - p;
        if (gap > 0)
        {
            _buffer.AsSpan(payloadStart, payload).CopyTo(_buffer.AsSpan(_recordStart + p));
            _length -= gap;
        }

        prefix[..p].CopyTo(_buffer.AsSpan(_recordStart));
        _recordStart = -1;
        Count++;
    }

    private void WriteAttributes(LogAttributes attributes)
    {
        WriteVarint((ulong)attributes.Count);
        foreach (var (key, value) in attributes)
        {
            WriteString(key);
            WriteValue(value);
        }
    }

    private void WriteValue(object? value)
    {
        switch (value)
        {
            case null:
                WriteByte(0);
                break;
            case string s:
                WriteByte(1);
                WriteString(s);
                break;
            case long l:
                WriteByte(2);
                WriteInt64(l);
                break;
            case int i:
                WriteByte(2);
                WriteInt64(i);
                break;
            case double d:
                WriteByte(3);
                WriteInt64(BitConverter.DoubleToInt64Bits(d));
                break;
            case bool b:
                WriteByte(b ? (byte)5 : (byte)4);
                break;
            case IReadOnlyDictionary<string, object?> map:
                WriteByte(7);
                WriteVarint((ulong)map.Count);
                foreach (var (k, v) in map)
                {
                    WriteString(k);
                    WriteValue(v);
                }

                break;
            case IReadOnlyList<object?> list:
                WriteByte(6);
                WriteVarint((ulong)list.Count);
                foreach (var v in list)
                {
                    WriteValue(v);
                }

                break;
            default:
                // The attribute model allows only the types above; anything else travels as its text.
                WriteByte(1);
                WriteString(Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture) ?? string.Empty);
                break;
        }
    }

    private void WriteString(string s)
    {
        var n = Encoding.UTF8.GetByteCount(s);
        WriteVarint((ulong)n);
        Ensure(n);
        _length += Encoding.UTF8.GetBytes(s, _buffer.AsSpan(_length));
    }

    private void WriteTime(DateTimeOffset t)
    {
        WriteInt64(t.UtcTicks);
        Ensure(2);
        BinaryPrimitives.WriteInt16LittleEndian(_buffer.AsSpan(_length), (short)t.Offset.TotalMinutes);
        _length += 2;
    }

    private void WriteInt64(long v)
    {
        Ensure(8);
        BinaryPrimitives.WriteInt64LittleEndian(_buffer.AsSpan(_length), v);
        _length += 8;
    }

    private void WriteByte(byte b)
    {
        Ensure(1);
        _buffer[_length++] = b;
    }

    private void WriteVarint(ulong v)
    {
        Ensure(10);
        _length += EncodeVarint(_buffer.AsSpan(_length), v);
    }

    private static int EncodeVarint(Span<byte> to, ulong v)
    {
        var i = 0;
        while (v >= 0x80)
        {
            to[i++] = (byte)(v | 0x80);
            v >>= 7;
        }

        to[i++] = (byte)v;
        return i;
    }

    private void Ensure(int more)
    {
        if (_length + more > _buffer.Length)
        {
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + more));
        }
    }
}

/// <summary>One record of a message as <see cref="RecordReader.Split"/> finds it.</summary>
/// <param name="Start">Where the record (its kind byte) starts in the body.</param>
/// <param name="Length">Its length in bytes, from the kind byte on.</param>
/// <param name="Id">Its id.</param>
public readonly record struct RecordSlice(int Start, int Length, string Id);

/// <summary>Reads what <see cref="RecordWriter"/> wrote. Every failure is a <see cref="FormatException"/> saying where.</summary>
public ref struct RecordReader
{
    private readonly ReadOnlySpan<byte> _data;
    private int _position;

    /// <summary>Reads <paramref name="data"/>.</summary>
    public RecordReader(ReadOnlySpan<byte> data)
    {
        _data = data;
        _position = 0;
    }

    /// <summary>
    /// Splits a message body into its records, checking that it holds exactly <paramref name="expectedCount"/> whole
    /// records and nothing after them.
    /// </summary>
    /// <exception cref="FormatException">The body is not a valid version-1 batch; the message says why.</exception>
    public static List<RecordSlice> Split(ReadOnlySpan<byte> body, int expectedCount)
    {
        if (expectedCount is < 1 or > 1_000_000)
        {
            throw new FormatException($"header conveyor-count must be 1-1000000 (was {expectedCount})");
        }

        var records = new List<RecordSlice>(expectedCount);
        var reader = new RecordReader(body);
        while (reader._position < body.Length)
        {
            var length = reader.ReadLength();
            var start = reader._position;
            var record = new RecordReader(body.Slice(start, length));
            var kind = record.ReadByte();
            if (kind is < (byte)RecordKind.Raw or > (byte)RecordKind.DeadLetter)
            {
                throw new FormatException($"record {records.Count + 1}: unknown kind {kind}");
            }

            records.Add(new RecordSlice(start, length, record.ReadString()));
            reader._position += length;
            if (records.Count > expectedCount)
            {
                break;
            }
        }

        return records.Count == expectedCount
            ? records
            : throw new FormatException($"the body holds {(records.Count > expectedCount ? "more than " : string.Empty)}{records.Count} records where conveyor-count says {expectedCount}");
    }

    /// <summary>The bytes not read yet.</summary>
    public readonly ReadOnlySpan<byte> Remaining => _data[_position..];

    /// <summary>Reads the record header: kind, id, source and time.</summary>
    public (RecordKind Kind, string Id, string Source, DateTimeOffset Time) ReadHeader() => ((RecordKind)ReadByte(), ReadString(), ReadString(), ReadTime());

    /// <summary>Reads an event's payload, after <see cref="ReadHeader"/>.</summary>
    public LogEvent ReadEvent(string id, string source, DateTimeOffset observed)
    {
        var flags = ReadByte();
        var e = new LogEvent(id, source, string.Empty, observed);
        if ((flags & 1) != 0)
        {
            e.Timestamp = ReadTime();
        }

        e.SeverityNumber = (int)ReadVarint(24);
        if ((flags & 2) != 0)
        {
            e.SeverityText = ReadString();
        }

        e.Body = ReadString();
        if ((flags & 4) != 0)
        {
            e.TraceId = ReadString();
        }

        if ((flags & 8) != 0)
        {
            e.SpanId = ReadString();
        }

        if ((flags & 16) != 0)
        {
            e.TraceFlags = (int)ReadVarint(uint.MaxValue);
        }

        if ((flags & 32) != 0)
        {
            e.EventName = ReadString();
        }

        ReadAttributes(e.Attributes);
        if ((flags & 64) != 0)
        {
            ReadAttributes(e.Resource);
        }

        return _position == _data.Length ? e : throw new FormatException($"{_data.Length - _position} bytes after the event");
    }

    /// <summary>Reads a dead letter's payload, after <see cref="ReadHeader"/>.</summary>
    public DeadLetter ReadDeadLetter(string id, string source, DateTimeOffset time)
    {
        var d = new DeadLetter(id, source, ReadString(), ReadString(), ReadString(), time);
        return _position == _data.Length ? d : throw new FormatException($"{_data.Length - _position} bytes after the dead letter");
    }

    private void ReadAttributes(LogAttributes into)
    {
        var n = (int)ReadVarint(100_000);
        for (var i = 0; i < n; i++)
        {
            into.Set(ReadString(), ReadValue(0));
        }
    }

    private object? ReadValue(int depth)
    {
        if (depth > 32)
        {
            throw new FormatException("attribute values nest deeper than 32");
        }

        var tag = ReadByte();
        switch (tag)
        {
            case 0:
                return null;
            case 1:
                return ReadString();
            case 2:
                return ReadInt64();
            case 3:
                return BitConverter.Int64BitsToDouble(ReadInt64());
            case 4:
                return false;
            case 5:
                return true;
            case 6:
                {
                    var n = (int)ReadVarint(100_000);
                    var list = new List<object?>(n);
                    for (var i = 0; i < n; i++)
                    {
                        list.Add(ReadValue(depth + 1));
                    }

                    return list;
                }

            case 7:
                {
                    var n = (int)ReadVarint(100_000);
                    var map = new Dictionary<string, object?>(n, StringComparer.Ordinal);
                    for (var i = 0; i < n; i++)
                    {
                        map[ReadString()] = ReadValue(depth + 1);
                    }

                    return map;
                }

            default:
                throw new FormatException($"unknown attribute value tag {tag} at byte {_position - 1}");
        }
    }

    private int ReadLength()
    {
        var n = ReadVarint(int.MaxValue);
        return n <= (ulong)(_data.Length - _position) ? (int)n : throw new FormatException($"a record of {n} bytes at byte {_position} runs past the end of the body ({_data.Length} bytes)");
    }

    private string ReadString()
    {
        var n = ReadLength();
        var s = Encoding.UTF8.GetString(_data.Slice(_position, n));
        _position += n;
        return s;
    }

    private DateTimeOffset ReadTime()
    {
        var ticks = ReadInt64();
        Need(2);
        var offset = BinaryPrimitives.ReadInt16LittleEndian(_data[_position..]);
        _position += 2;
        if (ticks < DateTime.MinValue.Ticks || ticks > DateTime.MaxValue.Ticks || offset is < -14 * 60 or > 14 * 60)
        {
            throw new FormatException($"invalid time (ticks {ticks}, offset {offset} min) at byte {_position - 10}");
        }

        var utc = new DateTimeOffset(ticks, TimeSpan.Zero);
        return offset == 0 ? utc : utc.ToOffset(TimeSpan.FromMinutes(offset));
    }

    private long ReadInt64()
    {
        Need(8);
        var v = BinaryPrimitives.ReadInt64LittleEndian(_data[_position..]);
        _position += 8;
        return v;
    }

    private byte ReadByte()
    {
        Need(1);
        return _data[_position++];
    }

    private ulong ReadVarint(ulong max)
    {
        ulong v = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            var b = ReadByte();
            v |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return v <= max ? v : throw new FormatException($"value {v} at byte {_position} is over its limit {max}");
            }
        }

        throw new FormatException($"an unterminated varint at byte {_position}");
    }

    private readonly void Need(int n)
    {
        if (_data.Length - _position < n)
        {
            throw new FormatException($"the data ends at byte {_data.Length} where {n} more were expected");
        }
    }
}
