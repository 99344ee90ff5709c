using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using Conveyor.Logs.Model;

namespace Conveyor.Logs.Sinks.DuckDb;

/// <summary>
/// A batch of events made ready for <see cref="DuckDbSink"/>'s writers, off the serialised write
/// (<see cref="DuckDbSink.PrepareBatchAsync"/>, on any thread): per row its stream and position, every column's value as
/// DuckDB stores it (times in microseconds, text as UTF-8 in one buffer: the body as the bytes received, the cold
/// attributes as JSON), its size; and the batch's <see cref="BodyFilter"/>, hashed from the received bytes. The write
/// then only checks the stored positions, appends these values (<see cref="EventAppender"/>) and commits.
/// </summary>
/// <remarks>
/// What holds: a preparation reads the batch and nothing the writes change (the stored positions are read only by the
/// write), so any number may run at once and beside a write. The rows are the batch's items minus the repeats of an
/// earlier item of the batch (<see cref="BatchDuplicates"/>), in batch order; the filter covers exactly those rows. A
/// batch is written once: the write takes its buffers back to the sink's pool. Every text value in the buffer is valid
/// UTF-8 (<see cref="EventAppender"/> relies on it).
/// </remarks>
internal sealed class DuckDbBatch : PreparedBatch
{
    private Buffers? _buffers;

    private DuckDbBatch(IReadOnlyList<LogEvent> events, Buffers buffers)
        : base(events) => _buffers = buffers;

    /// <summary>Prepares <paramref name="events"/> into <paramref name="buffers"/> (cleared first).</summary>
    public static DuckDbBatch Prepare(IReadOnlyList<LogEvent> events, Buffers buffers, CancellationToken cancellationToken)
    {
        buffers.Clear(events.Count);
        using var json = new Utf8JsonWriter(buffers.Text, LogEventJson.WriterOptions);
        for (var i = 0; i < events.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var e = events[i];
            var (streamText, position) = StoredPositions.Split(e.Id);
            if (buffers.Duplicates.Add(streamText.Span, position) is not { } stream)
            {
                continue;
            }

            ref var row = ref buffers.Rows[buffers.Count++];
            row = default;
            row.Event = i;
            row.Stream = stream;
            row.Position = position;
            PrepareRow(e, ref row, buffers, json);
            buffers.Filter.Add(e, row.Ts);
        }

        return new DuckDbBatch(events, buffers);
    }

    /// <summary>Takes the buffers for the write, once.</summary>
    /// <exception cref="InvalidOperationException">The batch was written already.</exception>
    public Buffers Take()
    {
        var b = _buffers ?? throw new InvalidOperationException("A prepared batch is written once; prepare it again.");
        _buffers = null;
        return b;
    }

    /// <summary>
    /// One pass over the attributes fills the hot columns (<see cref="StoredEvent.WriteColdAttributes"/>) and writes the others as
    /// JSON into the batch's buffer; every text column goes into that buffer as UTF-8: the body as the bytes received
    /// when they are valid UTF-8 (no string is decoded), else encoded from <see cref="LogEvent.Body"/> as every other
    /// text is from its string.
    /// </summary>
    private static void PrepareRow(LogEvent e, ref Row row, Buffers buffers, Utf8JsonWriter json)
    {
        var text = buffers.Text;
        var hot = default(StoredEvent.HotColumns);
        var start = text.WrittenCount;
        json.Reset();
        StoredEvent.WriteColdAttributes(json, e.Attributes, ref hot);
        json.Flush();
        row.Attributes = new Text(start, text.WrittenCount - start);
        row.Size = StoredEvent.ApproximateBytes(e, row.Attributes.Length);
        if (e.HasResource)
        {
            start = text.WrittenCount;
            json.Reset();
            LogEventJson.WriteAttributes(json, e.Resource);
            json.Flush();
            row.Resource = new Text(start, text.WrittenCount - start);
        }
        else
        {
            row.Resource = Text.Null;
        }

        row.Ts = e.EffectiveTimestamp.UtcDateTime;
        row.TsMicros = Micros(row.Ts);
        row.TsOffset = e.Timestamp is { } t ? StoredEvent.OffsetMinutes(t) : null;
        row.ObservedMicros = Micros(e.ObservedTimestamp.UtcDateTime);
        row.ObservedOffset = StoredEvent.OffsetMinutes(e.ObservedTimestamp);
        row.SeverityNumber = e.SeverityNumber;
        row.Status = hot.StatusColumn;
        row.TraceFlags = e.TraceFlags;
        row.SeverityText = Write(text, e.SeverityText);
        row.Method = Write(text, hot.Method);
        row.Client = Write(text, hot.Client);
        row.Url = Write(text, hot.Url);
        row.UserAgent = Write(text, hot.UserAgent);
        row.Source = Write(text, e.Source);
        row.Id = Write(text, e.Id);
        row.Body = e.TryGetBodyUtf8(out var utf8) && Utf8.IsValid(utf8) ? Write(text, utf8) : Write(text, e.Body);
        row.TraceId = Write(text, e.TraceId);
        row.SpanId = Write(text, e.SpanId);
        row.EventName = Write(text, e.EventName);
    }

    /// <summary>A UTC time as DuckDB's <c>TIMESTAMP</c>: microseconds since the Unix epoch, rounded down.</summary>
    internal static long Micros(DateTime utc) => long.DivRem(utc.Ticks - DateTime.UnixEpoch.Ticks, TimeSpan.TicksPerMicrosecond) is var (q, r) && r < 0 ? q - 1 : q;

    /// <summary>A string into the text buffer as UTF-8 (a lone surrogate becomes U+FFFD, so the bytes are always valid); null stays null.</summary>
    private static Text Write(ArrayBufferWriter<byte> text, string? value)
    {
        if (value is null)
        {
            return Text.Null;
        }

        var start = text.WrittenCount;
        var written = Encoding.UTF8.GetBytes(value, text.GetSpan(Encoding.UTF8.GetMaxByteCount(value.Length)));
        text.Advance(written);
        return new Text(start, written);
    }

    /// <summary>Bytes already known to be valid UTF-8 into the text buffer.</summary>
    private static Text Write(ArrayBufferWriter<byte> text, ReadOnlySpan<byte> utf8)
    {
        var start = text.WrittenCount;
        text.Write(utf8);
        return new Text(start, utf8.Length);
    }

    /// <summary>A value in the batch's text buffer: its offset and length in bytes; length -1 for NULL.</summary>
    internal readonly record struct Text(int Start, int Length)
    {
        public static Text Null => new(0, -1);
    }

    /// <summary>One row as the writer appends it (<see cref="EventAppender"/>): its values as DuckDB stores them, text in the batch's buffer.</summary>
    internal struct Row
    {
        public int Event;
        public string Stream;
        public long Position;
        public long Size;
        public DateTime Ts;
        public long TsMicros;
        public int? TsOffset;
        public long ObservedMicros;
        public int ObservedOffset;
        public int SeverityNumber;
        public int? Status;
        public int? TraceFlags;
        public Text SeverityText;
        public Text Method;
        public Text Client;
        public Text Url;
        public Text UserAgent;
        public Text Source;
        public Text Id;
        public Text Body;
        public Text TraceId;
        public Text SpanId;
        public Text EventName;
        public Text Attributes;
        public Text Resource;

        /// <summary>Set by the write (under the sink's positions lock): the position was stored before, the row is skipped.</summary>
        public bool Stored;
    }

    /// <summary>What a preparation fills, pooled by the sink between batches (the filter alone is 16 KiB).</summary>
    internal sealed class Buffers
    {
        public Row[] Rows { get; private set; } = [];

        public int Count { get; set; }

        public ArrayBufferWriter<byte> Text { get; } = new(64 << 10);

        public BodyFilter Filter { get; } = new();

        public BatchDuplicates Duplicates { get; } = new();

        /// <summary>The rows' (stream, position) pairs the write reserves (<see cref="DuckDbSink"/>'s reservation).</summary>
        public List<(string Stream, long Position)> Positions { get; } = [];

        public void Clear(int capacity)
        {
            Array.Clear(Rows, 0, Count);
            if (Rows.Length < capacity)
            {
                Rows = new Row[capacity];
            }

            Count = 0;
            Text.ResetWrittenCount();
            Filter.Clear();
            Duplicates.Clear();
            Positions.Clear();
        }
    }
}
