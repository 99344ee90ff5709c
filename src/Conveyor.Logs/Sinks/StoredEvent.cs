using System.Buffers;
using System.Text;
using System.Text.Json;
using Conveyor.Logs.Model;

namespace Conveyor.Logs.Sinks;

/// <summary>
/// How an event maps to the columns the SQL stores share: times as UTC microseconds plus the record's offset in
/// minutes, the hot attributes in typed columns, and every other attribute as JSON text, so a stored event reads back
/// as it was written (at microsecond precision). A hot attribute is kept only in its column when the column reads it
/// back exactly (<see cref="TakeHot"/>): DuckDB and PostgreSQL do so, which keeps the JSON (and PostgreSQL's jsonb
/// parsing, heap and WAL per row) to what no column holds; SQLite keeps every attribute in the JSON as well.
/// </summary>
internal static class StoredEvent
{
    private const long UnixEpochTicks = 621_355_968_000_000_000;

    /// <summary>The instant as microseconds since the Unix epoch, UTC.</summary>
    public static long ToUnixMicros(DateTimeOffset t) => (t.UtcTicks - UnixEpochTicks) / 10;

    /// <summary>Rebuilds an instant from microseconds and an offset in minutes.</summary>
    public static DateTimeOffset FromUnixMicros(long micros, int offsetMinutes) =>
        new DateTimeOffset(UnixEpochTicks + (micros * 10), TimeSpan.Zero).ToOffset(TimeSpan.FromMinutes(offsetMinutes));

    /// <summary>The offset of <paramref name="t"/> in whole minutes (all real offsets are).</summary>
    public static int OffsetMinutes(DateTimeOffset t) => (int)t.Offset.TotalMinutes;

    public static string? GetString(LogEvent e, string key) => e.Attributes.TryGetValue(key, out var v) ? AsText(v) : null;

    public static long? GetInt(LogEvent e, string key) => e.Attributes.TryGetValue(key, out var v) ? AsInt(v) : null;

    /// <summary>An attribute value as a text column holds it (null stays null).</summary>
    public static string? AsText(object? v) =>
        v is null ? null : v as string ?? Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>An attribute value as an integer column holds it: integers, integral doubles and integer text; else null.</summary>
    public static long? AsInt(object? v) => v switch
    {
        long l => l,
        int i => i,
        double d when double.IsInteger(d) && Math.Abs(d) < 1e15 => (long)d,
        string s when long.TryParse(s, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var p) => p,
        _ => null,
    };

    /// <summary>Serialises attributes as one JSON object; <paramref name="buffer"/> is reused between calls.</summary>
    public static string AttributesJson(IEnumerable<KeyValuePair<string, object?>> attributes, ArrayBufferWriter<byte> buffer)
    {
        buffer.ResetWrittenCount();
        using (var writer = new Utf8JsonWriter(buffer, LogEventJson.WriterOptions))
        {
            LogEventJson.WriteAttributes(writer, attributes);
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>Reads attributes written by <see cref="AttributesJson"/> back into <paramref name="target"/>.</summary>
    public static void ReadAttributes(string? json, LogAttributes target)
    {
        if (string.IsNullOrEmpty(json))
        {
            return;
        }

        using var doc = JsonDocument.Parse(json);
        foreach (var p in doc.RootElement.EnumerateObject())
        {
            target.Set(p.Name, LogEventJson.ReadValue(p.Value));
        }
    }

    /// <summary>A rough size of the event (characters of its text columns), to size transactions and refuse oversized events.</summary>
    public static long ApproximateBytes(LogEvent e, string attributesJson) => ApproximateBytes(e, attributesJson.Length);

    /// <summary>The same, given the length of the attributes' JSON (characters, or UTF-8 bytes where the sink writes bytes).</summary>
    public static long ApproximateBytes(LogEvent e, int attributesLength) =>
        (long)BodyLength(e) + attributesLength + e.Id.Length + e.Source.Length;

    /// <summary>The body's length in UTF-16 units, counted from its UTF-8 bytes when it is still those (no string is decoded).</summary>
    public static int BodyLength(LogEvent e) =>
        e.TryGetBodyUtf8(out var utf8) ? Encoding.UTF8.GetCharCount(utf8) : e.Body.Length;

    /// <summary>
    /// One look at an attribute's key: a hot one sets its column in <paramref name="columns"/> (as the column holds it:
    /// text, or an integer status); returns true when that column reads back exactly this attribute (key, value and
    /// type), so it stays out of the JSON.
    /// </summary>
    public static bool TakeHot(KeyValuePair<string, object?> a, ref HotColumns columns)
    {
        switch (a.Key)
        {
            case SemanticNames.HttpResponseStatusCode:
                columns.Status = AsInt(a.Value);
                return a.Value is long l && l is >= int.MinValue and <= int.MaxValue;
            case SemanticNames.HttpRequestMethod:
                columns.Method = AsText(a.Value);
                return a.Value is string;
            case SemanticNames.ClientAddress:
                columns.Client = AsText(a.Value);
                return a.Value is string;
            case SemanticNames.UrlOriginal:
                columns.Url = AsText(a.Value);
                return a.Value is string;
            case SemanticNames.UserAgentOriginal:
                columns.UserAgent = AsText(a.Value);
                return a.Value is string;
            default:
                return false;
        }
    }

    /// <summary>
    /// One pass over <paramref name="attributes"/>: the hot ones fill <paramref name="hot"/>, the others are written to
    /// <paramref name="json"/> as one object (what the attributes column holds beside the typed columns).
    /// </summary>
    public static void WriteColdAttributes(Utf8JsonWriter json, LogAttributes attributes, ref HotColumns hot)
    {
        json.WriteStartObject();
        foreach (var a in attributes)
        {
            if (!TakeHot(a, ref hot))
            {
                LogEventJson.WriteMember(json, a.Key, a.Value);
            }
        }

        json.WriteEndObject();
    }

    /// <summary>The hot columns' values of one event, as <see cref="TakeHot"/> fills them.</summary>
    internal struct HotColumns
    {
        public long? Status;
        public string? Method;
        public string? Client;
        public string? Url;
        public string? UserAgent;

        /// <summary>The status as the integer column holds it, or null when it is none or out of range.</summary>
        public readonly int? StatusColumn => Status is >= int.MinValue and <= int.MaxValue ? (int)Status : null;
    }
}
