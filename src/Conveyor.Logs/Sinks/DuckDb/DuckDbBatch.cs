using System.Buffers;
using System.Text;
using System.Text.Json;
using Conveyor.Logs.Model;
using DuckDB.NET.Data;

namespace Conveyor.Logs.Sinks.DuckDb;

/// <summary>
/// A batch of events made ready for <see cref="DuckDbSink"/>'s one writer, off the serialised write
/// (<see cref="DuckDbSink.PrepareBatchAsync"/>, on any thread): per row its stream and position, the hot columns'
/// values (the body decoded here, not on the writer), the cold attributes' JSON as UTF-8 in one buffer, its size; and
/// the batch's <see cref="BodyFilter"/>, hashed from the received bytes. The write then only checks the stored
/// positions, appends these values and commits.
/// </summary>
/// <remarks>
/// <para>What holds: a preparation reads the batch and nothing the writes change (the stored positions are read only by the
/// write), so any number may run at once and beside a write. The rows are the batch's items minus the repeats of an
/// earlier item of the batch (<see cref="BatchDuplicates"/>), in batch order; the filter covers exactly those rows. A
/// batch is written once: the write takes its buffers back to the sink's pool.</para>
/// <para>Text columns go to the appender as strings, not as UTF-8 bytes: DuckDB.NET 1.5.6 appends a string through
/// <c>duckdb_unsafe_vector_assign_string_element_len</c> (its own vectorised transcoding, no validation), but a byte
/// span through the validating <c>duckdb_vector_assign_string_element_len</c>, whose scalar UTF-8 check
/// (<c>Utf8Proc::Analyze</c>) cost the writer about three times what transcoding does (measured: 44 samples with
/// strings, 129 with every text column as bytes). Only the attributes' JSON, which exists as UTF-8 alone, goes as bytes.</para>
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

    /// <summary>Appends one prepared row (the writer's only per-row work besides the position check).</summary>
    public static void Append(DuckDBAppender appender, LogEvent e, in Row row, Span<byte> text)
    {
        if (row.HasNul)
        {
            AppendWithNul(appender, e, row, text);
            return;
        }

        AppendTimes(appender, e, row)
            .AppendValue(e.SeverityText)
            .AppendValue(row.Status)
            .AppendValue(row.Method)
            .AppendValue(row.Client)
            .AppendValue(row.Url)
            .AppendValue(row.UserAgent)
            .AppendValue(e.Source)
            .AppendValue(e.Id)
            .AppendValue(row.Body)
            .AppendValue(e.TraceId)
            .AppendValue(e.SpanId)
            .AppendValue(e.TraceFlags)
            .AppendValue(e.EventName)
            .AppendValue(AttributeBytes(text, row.Attributes))
            .AppendValue(AttributeBytes(text, row.Resource))
            .EndRow();
    }

    /// <summary>The row's first columns: its times and severity number.</summary>
    private static IDuckDBAppenderRow AppendTimes(DuckDBAppender appender, LogEvent e, in Row row) =>
        appender.CreateRow()
            .AppendValue(row.Ts)
            .AppendValue(e.Timestamp is { } t ? StoredEvent.OffsetMinutes(t) : (int?)null)
            .AppendValue(e.ObservedTimestamp.UtcDateTime)
            .AppendValue((int?)StoredEvent.OffsetMinutes(e.ObservedTimestamp))
            .AppendValue((int?)e.SeverityNumber);

    /// <summary>
    /// The same for a row with a NUL in a text column (rare): DuckDB.NET passes a string as a C string, which ends at
    /// its first NUL, so each text column goes as its UTF-8 bytes instead, whole.
    /// </summary>
    private static void AppendWithNul(DuckDBAppender appender, LogEvent e, in Row row, Span<byte> text)
    {
        var r = AppendTimes(appender, e, row)
            .AppendValue(e.SeverityText is null ? null : Encoding.UTF8.GetBytes(e.SeverityText))
            .AppendValue(row.Status);
        r = AppendString(AppendString(AppendString(AppendString(r, row.Method), row.Client), row.Url), row.UserAgent);
        r = AppendString(AppendString(AppendString(r, e.Source), e.Id), row.Body);
        r = AppendString(AppendString(r, e.TraceId), e.SpanId).AppendValue(e.TraceFlags);
        r = AppendString(r, e.EventName);
        r.AppendValue(AttributeBytes(text, row.Attributes)).AppendValue(AttributeBytes(text, row.Resource)).EndRow();
    }

    /// <summary>
    /// One pass over the attributes fills the hot columns (<see cref="DuckDbSink.TakeHot"/>) and writes the others as
    /// JSON into the batch's buffer; the body is decoded here (once per event: the event keeps the string).
    /// </summary>
    private static void PrepareRow(LogEvent e, ref Row row, Buffers buffers, Utf8JsonWriter json)
    {
        var text = buffers.Text;
        var hot = default(DuckDbSink.HotColumns);
        var start = text.WrittenCount;
        json.Reset();
        json.WriteStartObject();
        foreach (var a in e.Attributes)
        {
            if (!DuckDbSink.TakeHot(a, ref hot))
            {
                json.WritePropertyName(a.Key);
                LogEventJson.WriteValue(json, a.Value);
            }
        }

        json.WriteEndObject();
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
        row.Status = hot.Status is >= int.MinValue and <= int.MaxValue ? (int?)hot.Status : null;
        row.Method = hot.Method;
        row.Client = hot.Client;
        row.Url = hot.Url;
        row.UserAgent = hot.UserAgent;
        row.Body = e.Body;
        row.HasNul = HasNul(e.SeverityText) || HasNul(row.Method) || HasNul(row.Client) || HasNul(row.Url) || HasNul(row.UserAgent)
            || HasNul(e.Source) || HasNul(e.Id) || HasNul(row.Body) || HasNul(e.TraceId) || HasNul(e.SpanId) || HasNul(e.EventName);
    }

    private static bool HasNul(string? value) => value is not null && value.Contains('\0', StringComparison.Ordinal);

    /// <summary>A text column as its UTF-8 bytes (whole, NUL included); null stays null.</summary>
    private static IDuckDBAppenderRow AppendString(IDuckDBAppenderRow row, string? value) =>
        row.AppendValue(value is null ? null : Encoding.UTF8.GetBytes(value));

    /// <summary>
    /// A JSON value of the batch's buffer as the appender takes it: the default span, which it stores as NULL, for NULL
    /// (a JSON object is never empty, so no value is mistaken for it).
    /// </summary>
    private static Span<byte> AttributeBytes(Span<byte> text, Text value) => value.Length < 0 ? default : text.Slice(value.Start, value.Length);

    /// <summary>A value in the batch's text buffer: its offset and length in bytes; length -1 for NULL.</summary>
    internal readonly record struct Text(int Start, int Length)
    {
        public static Text Null => new(0, -1);
    }

    /// <summary>One row as the writer appends it.</summary>
    internal struct Row
    {
        public int Event;
        public string Stream;
        public long Position;
        public long Size;
        public DateTime Ts;
        public int? Status;
        public string? Method;
        public string? Client;
        public string? Url;
        public string? UserAgent;
        public string Body;
        public Text Attributes;
        public Text Resource;
        public bool HasNul;

        /// <summary>Set by the write (under the sink's positions lock): the position was stored before, the row is skipped.</summary>
        public bool Stored;
    }

    /// <summary>What a preparation fills, pooled by the sink between batches (the filter alone is 128 KiB).</summary>
    internal sealed class Buffers
    {
        public Row[] Rows { get; private set; } = [];

        public int Count { get; set; }

        public ArrayBufferWriter<byte> Text { get; } = new(64 << 10);

        public BodyFilter Filter { get; } = new();

        public BatchDuplicates Duplicates { get; } = new();

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
        }
    }
}
