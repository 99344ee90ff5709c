using System.Globalization;
using System.Numerics;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Conveyor.Logs.Model;

/// <summary>
/// The one JSON shape of an event (docs/REFERENCE.md, "Event model"), shared by <c>conveyor parse</c>, the NDJSON sink,
/// <c>conveyor query --json</c> and <c>/api/search</c>, so all four always agree.
/// </summary>
public static class LogEventJson
{
    /// <summary>
    /// Writer options for event output: text stays as written (non-ASCII, quotes, <c>+</c> and <c>&lt;</c> included),
    /// so <c>conveyor parse | grep</c> finds what the log said. Only what JSON requires is escaped. This is safe for
    /// the dashboard because it is served as <c>application/json</c> and the page renders every value as text.
    /// </summary>
    public static readonly JsonWriterOptions WriterOptions = new()
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Indented = false,
    };

    /// <summary>ISO-8601 with the record's own offset and only the fraction digits it needs.</summary>
    public static string FormatTimestamp(DateTimeOffset value)
    {
        Span<byte> text = stackalloc byte[TimestampBytes];
        return System.Text.Encoding.ASCII.GetString(text[..FormatTimestamp(value, text)]);
    }

    // The longest timestamp is 33 bytes: yyyy-MM-ddTHH:mm:ss.fffffff+hh:mm (DateTimeOffset has 4-digit years).
    private const int TimestampBytes = 33;

    /// <summary>
    /// Writes <paramref name="value"/> as ASCII into <paramref name="destination"/> (at least 33 bytes) and returns the
    /// length: the text of the custom format <c>yyyy-MM-dd'T'HH:mm:ss.FFFFFFFzzz</c> (trailing fraction zeros and a
    /// zero fraction's '.' dropped, the offset as <c>+hh:mm</c>), written digit by digit because the custom-format
    /// path cost 5% of the NDJSON hot path's CPU (two timestamps per event; LogEventJsonTests holds the two equal).
    /// </summary>
    internal static int FormatTimestamp(DateTimeOffset value, Span<byte> destination)
    {
        var clock = value.DateTime;
        var (year, month, day) = clock;
        var ticks = clock.TimeOfDay.Ticks;
        var d = destination[..TimestampBytes];
        Digits(d[..4], year);
        d[4] = (byte)'-';
        Digits(d.Slice(5, 2), month);
        d[7] = (byte)'-';
        Digits(d.Slice(8, 2), day);
        d[10] = (byte)'T';
        Digits(d.Slice(11, 2), (int)(ticks / TimeSpan.TicksPerHour));
        d[13] = (byte)':';
        Digits(d.Slice(14, 2), (int)(ticks / TimeSpan.TicksPerMinute % 60));
        d[16] = (byte)':';
        Digits(d.Slice(17, 2), (int)(ticks / TimeSpan.TicksPerSecond % 60));
        var n = 19;
        var fraction = (int)(ticks % TimeSpan.TicksPerSecond);
        if (fraction != 0)
        {
            d[n] = (byte)'.';
            Digits(d.Slice(n + 1, 7), fraction);
            n += 8;
            while (d[n - 1] == '0')
            {
                n--;
            }
        }

        var offset = (int)(value.Offset.Ticks / TimeSpan.TicksPerMinute);
        d[n] = offset < 0 ? (byte)'-' : (byte)'+';
        offset = Math.Abs(offset);
        Digits(d.Slice(n + 1, 2), offset / 60);
        d[n + 3] = (byte)':';
        Digits(d.Slice(n + 4, 2), offset % 60);
        return n + 6;
    }

    // Writes value as exactly destination.Length decimal digits, zero-padded (value fits).
    private static void Digits(Span<byte> destination, int value)
    {
        for (var i = destination.Length - 1; i >= 0; i--)
        {
            destination[i] = (byte)('0' + (value % 10));
            value /= 10;
        }
    }

    /// <summary>Writes <paramref name="e"/> as one JSON object.</summary>
    /// <remarks>
    /// The NDJSON sink calls this once per event: nothing here allocates (timestamps are formatted as UTF-8 into a
    /// stack buffer, field names are UTF-8 literals, attributes are walked with the list's own enumerator).
    /// </remarks>
    public static void Write(Utf8JsonWriter writer, LogEvent e)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(e);
        writer.WriteStartObject();
        writer.WriteString("id"u8, e.Id);
        if (EncodedStrings.TryGet(writer, e.Source, out var source))
        {
            writer.WriteString("source"u8, source);
        }
        else
        {
            writer.WriteString("source"u8, e.Source);
        }

        if (e.Timestamp is { } ts)
        {
            WriteTimestamp(writer, "timestamp"u8, ts);
        }
        else
        {
            writer.WriteNull("timestamp"u8);
        }

        WriteTimestamp(writer, "observed_timestamp"u8, e.ObservedTimestamp);
        if (e.SeverityText is null)
        {
            writer.WriteNull("severity_text"u8);
        }
        else
        {
            writer.WriteString("severity_text"u8, e.SeverityText);
        }

        writer.WriteNumber("severity_number"u8, e.SeverityNumber);
        if (e.TryGetBodyUtf8(out var body) && System.Text.Unicode.Utf8.IsValid(body))
        {
            // The received bytes, escaped exactly as their string would be. Invalid UTF-8 takes the string path: the
            // writer would escape its U+FFFD as \uFFFD, where the decoded string writes the character itself.
            writer.WriteString("body"u8, body);
        }
        else
        {
            writer.WriteString("body"u8, e.Body);
        }
        if (e.TraceId is { } traceId)
        {
            writer.WriteString("trace_id"u8, traceId);
        }

        if (e.SpanId is { } spanId)
        {
            writer.WriteString("span_id"u8, spanId);
        }

        if (e.TraceFlags is { } flags)
        {
            writer.WriteNumber("trace_flags"u8, flags);
        }

        if (e.EventName is { } eventName)
        {
            writer.WriteString("event_name"u8, eventName);
        }

        writer.WritePropertyName("attributes"u8);
        WriteAttributes(writer, e.Attributes);
        writer.WritePropertyName("resource"u8);
        if (e.HasResource)
        {
            WriteAttributes(writer, e.Resource);
        }
        else
        {
            writer.WriteStartObject();
            writer.WriteEndObject();
        }

        writer.WriteEndObject();
    }

    private static void WriteTimestamp(Utf8JsonWriter writer, ReadOnlySpan<byte> name, DateTimeOffset value)
    {
        Span<byte> text = stackalloc byte[TimestampBytes];
        writer.WriteString(name, text[..FormatTimestamp(value, text)]);
    }

    /// <summary>Writes attributes as one JSON object, each value with its JSON type.</summary>
    public static void WriteAttributes(Utf8JsonWriter writer, IEnumerable<KeyValuePair<string, object?>> attributes)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(attributes);
        writer.WriteStartObject();
        if (attributes is LogAttributes list)
        {
            // The list's own struct enumerator: every event's attributes are written without a boxed enumerator.
            foreach (var (key, value) in list)
            {
                WriteMember(writer, key, value);
            }
        }
        else
        {
            foreach (var (key, value) in attributes)
            {
                WriteMember(writer, key, value);
            }
        }

        writer.WriteEndObject();
    }

    /// <summary>Writes one attribute: its key, then its value (<see cref="WriteValue"/>).</summary>
    internal static void WriteMember(Utf8JsonWriter writer, string key, object? value)
    {
        if (EncodedStrings.TryGet(writer, key, out var name))
        {
            writer.WritePropertyName(name);
        }
        else
        {
            writer.WritePropertyName(key);
        }

        WriteValue(writer, value);
    }

    /// <summary>
    /// Writes one attribute value; see <see cref="LogAttributes"/> for the types a value may have. A double is always
    /// written with a <c>.</c> or an exponent (<c>0.0</c>), so its kind survives a round trip (see <see cref="JsonNumber"/>).
    /// </summary>
    public static void WriteValue(Utf8JsonWriter writer, object? value)
    {
        ArgumentNullException.ThrowIfNull(writer);
        switch (value)
        {
            case null:
                writer.WriteNullValue();
                break;
            case string s when EncodedStrings.TryGet(writer, s, out var text):
                writer.WriteStringValue(text);
                break;
            case string s:
                writer.WriteStringValue(s);
                break;
            case long l:
                writer.WriteNumberValue(l);
                break;
            case int i:
                writer.WriteNumberValue(i);
                break;
            case double d when double.IsFinite(d):
                JsonNumber.Write(writer, d);
                break;
            case BigInteger big:
                JsonNumber.Write(writer, big);
                break;
            case double d:
                // JSON has no NaN or infinity; keep the value readable rather than fail the whole record.
                writer.WriteStringValue(d.ToString(CultureInfo.InvariantCulture));
                break;
            case bool b:
                writer.WriteBooleanValue(b);
                break;
            case byte[] bytes:
                writer.WriteBase64StringValue(bytes);
                break;
            case IReadOnlyDictionary<string, object?> map:
                WriteAttributes(writer, map);
                break;
            case IReadOnlyDictionary<string, string> stringMap:
                writer.WriteStartObject();
                foreach (var (k, v) in stringMap)
                {
                    writer.WriteString(k, v);
                }

                writer.WriteEndObject();
                break;
            case IEnumerable<object?> list:
                writer.WriteStartArray();
                foreach (var item in list)
                {
                    WriteValue(writer, item);
                }

                writer.WriteEndArray();
                break;
            default:
                writer.WriteStringValue(Convert.ToString(value, CultureInfo.InvariantCulture));
                break;
        }
    }

    /// <summary>
    /// Reads an event written by <see cref="Write"/> (the JSON of <c>/api/search</c> and <c>conveyor parse</c>), and the
    /// trace fields <c>trace_id</c>, <c>span_id</c>, <c>trace_flags</c>, <c>event_name</c> when present.
    /// </summary>
    /// <exception cref="FormatException">A required field (id, source, observed_timestamp, body) is missing or mistyped.</exception>
    public static LogEvent Read(JsonElement element)
    {
        string Required(string name) => element.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String
            ? v.GetString()!
            : throw new FormatException($"an event needs a string '{name}'");
        string? Optional(string name) => element.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        static DateTimeOffset Time(string text) => DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);

        var e = new LogEvent(Required("id"), Required("source"), Required("body"), Time(Required("observed_timestamp")))
        {
            Timestamp = Optional("timestamp") is { } ts ? Time(ts) : null,
            SeverityText = Optional("severity_text"),
            SeverityNumber = element.TryGetProperty("severity_number", out var n) && n.TryGetInt32(out var number) ? number : 0,
            TraceId = Optional("trace_id"),
            SpanId = Optional("span_id"),
            TraceFlags = element.TryGetProperty("trace_flags", out var f) && f.TryGetInt32(out var flags) ? flags : null,
            EventName = Optional("event_name"),
        };
        if (element.TryGetProperty("attributes", out var attributes) && attributes.ValueKind == JsonValueKind.Object)
        {
            foreach (var p in attributes.EnumerateObject())
            {
                e.Attributes.Set(p.Name, ReadValue(p.Value));
            }
        }

        if (element.TryGetProperty("resource", out var resource) && resource.ValueKind == JsonValueKind.Object)
        {
            foreach (var p in resource.EnumerateObject())
            {
                e.Resource.Set(p.Name, ReadValue(p.Value));
            }
        }

        return e;
    }

    /// <summary>
    /// A JSON value as the attribute value <see cref="WriteValue"/> writes it from; a number keeps its kind
    /// (<see cref="JsonNumber.FromText"/>).
    /// </summary>
    public static object? ReadValue(JsonElement v) => v.ValueKind switch
    {
        JsonValueKind.String => v.GetString(),
        JsonValueKind.Number => JsonNumber.FromText(System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(v)),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.Array => v.EnumerateArray().Select(ReadValue).ToList(),
        JsonValueKind.Object => v.EnumerateObject().ToDictionary(p => p.Name, p => ReadValue(p.Value)),
        _ => null,
    };
}
