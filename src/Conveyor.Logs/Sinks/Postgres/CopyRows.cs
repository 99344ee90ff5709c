using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using Conveyor.Logs.Model;

namespace Conveyor.Logs.Sinks.Postgres;

/// <summary>
/// Events as the rows of a binary COPY (PostgreSQL's documented <c>COPY … (FORMAT BINARY)</c> file format: the
/// signature header, one tuple per event — a field count, then each field as a big-endian length, -1 for NULL, and
/// its binary value — and the -1 trailer), in the column order of <see cref="Columns"/>.
/// </summary>
/// <remarks>
/// Npgsql's row importer binds a parameter for every value it writes (type resolution, an async call per field):
/// measured on conveyor → PostgreSQL, 17 % of conveyor's CPU. Written here instead, a row costs what its bytes do:
/// the body goes as the bytes received when they are valid UTF-8 (no string is decoded), the attributes' JSON straight
/// into the buffer, numbers and times as the fixed-size values the server reads. What holds: text is valid UTF-8
/// (strings are encoded with replacement of lone surrogates; a NUL the server refuses as before, which makes the
/// batch's failure permanent and the bad event a dead letter); times are microseconds since 2000-01-01 UTC,
/// truncated as Npgsql does, with <see cref="DateTime.MinValue"/> and <see cref="DateTime.MaxValue"/> as -infinity
/// and infinity; jsonb is its version byte 1 and the JSON text.
/// </remarks>
internal static class CopyRows
{
    /// <summary>The columns every tuple holds, in order.</summary>
    public const string Columns = "id, ts, ts_offset, observed_ts, observed_offset, severity_number, severity_text, status, method, client, url, user_agent, source, body, attributes, resource, trace_id, span_id, trace_flags, event_name";

    private const short FieldCount = 20;

    /// <summary>Ticks of 2000-01-01T00:00Z, PostgreSQL's epoch.</summary>
    private const long PostgresEpochTicks = 630_822_816_000_000_000;

    /// <summary>The signature <c>PGCOPY\n\377\r\n\0</c>, then flags 0 and a header extension of 0 bytes.</summary>
    private static readonly byte[] HeaderBytes = [(byte)'P', (byte)'G', (byte)'C', (byte)'O', (byte)'P', (byte)'Y', (byte)'\n', 0xFF, (byte)'\r', (byte)'\n', 0, 0, 0, 0, 0, 0, 0, 0, 0];

    /// <summary>The COPY input's header: signature, flags and extension length; written once, before the first row.</summary>
    public static void WriteHeader(ArrayBufferWriter<byte> buffer) => buffer.Write(HeaderBytes);

    /// <summary>The COPY input's trailer (a field count of -1), after the last row.</summary>
    public static void WriteTrailer(ArrayBufferWriter<byte> buffer)
    {
        BinaryPrimitives.WriteInt16BigEndian(buffer.GetSpan(2), -1);
        buffer.Advance(2);
    }

    /// <summary>
    /// One event's tuple; <paramref name="json"/> is any writer, reset onto <paramref name="buffer"/> for each JSON
    /// field; <paramref name="coldKeys"/> is one writer's (a batch's) memory of the order its last row's keys went in.
    /// </summary>
    public static void WriteRow(LogEvent e, ArrayBufferWriter<byte> buffer, Utf8JsonWriter json, ColdKeys coldKeys)
    {
        BinaryPrimitives.WriteInt16BigEndian(buffer.GetSpan(2), FieldCount);
        buffer.Advance(2);

        // The hot columns (status … user_agent) come from one look at the attributes, which also marks the ones the
        // attributes' JSON, written where its field goes, leaves out.
        WriteText(buffer, e.Id);
        WriteTimestamp(buffer, e.EffectiveTimestamp.UtcDateTime);
        WriteInt(buffer, e.Timestamp is { } t ? StoredEvent.OffsetMinutes(t) : null);
        WriteTimestamp(buffer, e.ObservedTimestamp.UtcDateTime);
        WriteInt(buffer, StoredEvent.OffsetMinutes(e.ObservedTimestamp));
        WriteInt(buffer, e.SeverityNumber);
        WriteText(buffer, e.SeverityText);

        var hot = default(StoredEvent.HotColumns);
        var attributes = e.Attributes;
        var hotAt = TakeHot(attributes, ref hot);

        WriteInt(buffer, hot.StatusColumn);
        WriteText(buffer, hot.Method);
        WriteText(buffer, hot.Client);
        WriteText(buffer, hot.Url);
        WriteText(buffer, hot.UserAgent);
        WriteText(buffer, e.Source);
        if (e.TryGetBodyUtf8(out var body) && Utf8.IsValid(body))
        {
            WriteBytes(buffer, body);
        }
        else
        {
            WriteText(buffer, e.Body);
        }

        var at = BeginJsonb(buffer, json);
        json.WriteStartObject();
        foreach (var i in coldKeys.Of(attributes, hotAt))
        {
            var a = attributes.At(i);
            LogEventJson.WriteMember(json, a.Key, a.Value);
        }

        json.WriteEndObject();
        EndJsonb(buffer, json, at);
        if (e.HasResource)
        {
            at = BeginJsonb(buffer, json);
            LogEventJson.WriteAttributes(json, e.Resource);
            EndJsonb(buffer, json, at);
        }
        else
        {
            WriteNull(buffer);
        }

        WriteText(buffer, e.TraceId);
        WriteText(buffer, e.SpanId);
        WriteInt(buffer, e.TraceFlags);
        WriteText(buffer, e.EventName);
    }

    private static void WriteNull(ArrayBufferWriter<byte> buffer)
    {
        BinaryPrimitives.WriteInt32BigEndian(buffer.GetSpan(4), -1);
        buffer.Advance(4);
    }

    private static void WriteInt(ArrayBufferWriter<byte> buffer, int? value)
    {
        if (value is not { } v)
        {
            WriteNull(buffer);
            return;
        }

        var span = buffer.GetSpan(8);
        BinaryPrimitives.WriteInt32BigEndian(span, 4);
        BinaryPrimitives.WriteInt32BigEndian(span[4..], v);
        buffer.Advance(8);
    }

    private static void WriteTimestamp(ArrayBufferWriter<byte> buffer, DateTime utc)
    {
        var micros = utc == DateTime.MinValue ? long.MinValue
            : utc == DateTime.MaxValue ? long.MaxValue
            : (utc.Ticks - PostgresEpochTicks) / 10;
        var span = buffer.GetSpan(12);
        BinaryPrimitives.WriteInt32BigEndian(span, 8);
        BinaryPrimitives.WriteInt64BigEndian(span[4..], micros);
        buffer.Advance(12);
    }

    private static void WriteText(ArrayBufferWriter<byte> buffer, string? value)
    {
        if (value is null)
        {
            WriteNull(buffer);
            return;
        }

        var span = buffer.GetSpan(4 + Encoding.UTF8.GetMaxByteCount(value.Length));
        var n = Encoding.UTF8.GetBytes(value, span[4..]);
        BinaryPrimitives.WriteInt32BigEndian(span, n);
        buffer.Advance(4 + n);
    }

    private static void WriteBytes(ArrayBufferWriter<byte> buffer, ReadOnlySpan<byte> value)
    {
        var span = buffer.GetSpan(4 + value.Length);
        BinaryPrimitives.WriteInt32BigEndian(span, value.Length);
        value.CopyTo(span[4..]);
        buffer.Advance(4 + value.Length);
    }

    /// <summary>
    /// One look at each attribute: the hot ones fill <paramref name="hot"/>, and the returned bits mark which of the
    /// first 64 the JSON leaves out (what <see cref="ColdKeys.Of"/> takes; an event with more is looked at again there).
    /// </summary>
    internal static ulong TakeHot(LogAttributes attributes, ref StoredEvent.HotColumns hot)
    {
        var hotAt = 0UL;
        for (var i = 0; i < attributes.Count; i++)
        {
            if (StoredEvent.TakeHot(attributes.At(i), ref hot) && i < 64)
            {
                hotAt |= 1UL << i;
            }
        }

        return hotAt;
    }

    /// <summary>
    /// Starts a jsonb field whose JSON <paramref name="json"/> then writes: its length is known only once the JSON is
    /// written, so 4 bytes are kept for it, and <see cref="EndJsonb"/> fills them. Returns where the field starts.
    /// </summary>
    private static int BeginJsonb(ArrayBufferWriter<byte> buffer, Utf8JsonWriter json)
    {
        var lengthAt = buffer.WrittenCount;
        var head = buffer.GetSpan(5);
        head[4] = 1; // jsonb's binary format version
        buffer.Advance(5);
        json.Reset(buffer);
        return lengthAt;
    }

    private static void EndJsonb(ArrayBufferWriter<byte> buffer, Utf8JsonWriter json, int lengthAt)
    {
        json.Flush();

        // ArrayBufferWriter's written bytes stay where they are: the length goes into the 4 bytes kept for it.
        var written = System.Runtime.InteropServices.MemoryMarshal.AsMemory(buffer.WrittenMemory).Span;
        BinaryPrimitives.WriteInt32BigEndian(written[lengthAt..], buffer.WrittenCount - lengthAt - 4);
    }

    /// <summary>
    /// Which attributes of a row go into its JSON, and in what order: every one but the hot ones, keys in jsonb's own
    /// order. jsonb keeps an object's keys sorted (shorter first, then bytewise) and sorts what it is given;
    /// PostgreSQL's sort makes one pass over input already in order and stops there. Sorting an access-log event's
    /// eight cold keys took ~5 % of the server's CPU per row (a profile under 1M corpus lines). The order of the last
    /// row is kept: the events of one source set the same keys in the same order, so the next row's order is found by
    /// comparing its keys with the last row's by reference, and sorted only when they differ. One per writer; not
    /// thread-safe.
    /// </summary>
    internal sealed class ColdKeys
    {
        private string[] _keys = new string[16];
        private int[] _order = new int[16];
        private int _count = -1;
        private ulong _hotAt;
        private int _cold;

        /// <summary>
        /// The indexes of the cold attributes, in jsonb's key order. <paramref name="hotAt"/> has a bit set for each
        /// of the first 64 attributes that its column holds (<see cref="TakeHot"/>); an event with more attributes is
        /// looked at again here and not kept.
        /// </summary>
        public ReadOnlySpan<int> Of(LogAttributes attributes, ulong hotAt)
        {
            var n = attributes.Count;
            if (n == _count && hotAt == _hotAt && SameKeys(attributes))
            {
                return _order.AsSpan(0, _cold);
            }

            if (_keys.Length < n)
            {
                _keys = new string[n];
                _order = new int[n];
            }

            var ignored = default(StoredEvent.HotColumns);
            _cold = 0;
            for (var i = 0; i < n; i++)
            {
                var a = attributes.At(i);
                _keys[i] = a.Key;
                if (i < 64 ? (hotAt & (1UL << i)) != 0 : StoredEvent.TakeHot(a, ref ignored))
                {
                    continue;
                }

                var j = _cold++;
                while (j > 0 && Compare(attributes.At(_order[j - 1]).Key, a.Key) > 0)
                {
                    _order[j] = _order[j - 1];
                    j--;
                }

                _order[j] = i;
            }

            // An event past 64 attributes was looked at in full: its order is right for it alone.
            _count = n <= 64 ? n : -1;
            _hotAt = hotAt;
            return _order.AsSpan(0, _cold);
        }

        /// <summary>
        /// jsonb's key order: UTF-8 length, then bytes. For ASCII keys (every semantic name) that is the string's
        /// length, then ordinal order; a non-ASCII key may land out of place, which costs the server its sort, never a
        /// wrong row.
        /// </summary>
        internal static int Compare(string a, string b)
        {
            var byLength = a.Length.CompareTo(b.Length);
            return byLength != 0 ? byLength : string.CompareOrdinal(a, b);
        }

        private bool SameKeys(LogAttributes attributes)
        {
            for (var i = 0; i < _count; i++)
            {
                if (!ReferenceEquals(_keys[i], attributes.At(i).Key))
                {
                    return false;
                }
            }

            return true;
        }
    }
}
