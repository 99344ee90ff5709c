using System.Buffers;
using System.Text;
using System.Text.Json;
using Conveyor.Logs.Model;

namespace Conveyor.Logs.Sinks;

/// <summary>
/// How an event maps to the columns the SQL stores share: times as UTC microseconds plus the record's offset in
/// minutes, the hot attributes copied into typed columns, and every attribute (in order) as JSON text so a stored
/// event reads back exactly as it was written (at microsecond precision).
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
}
