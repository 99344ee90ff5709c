using System.Globalization;
using System.Numerics;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Conveyor.Logs.Model;

/// <summary>
/// The one JSON shape of an event (SPEC §2), shared by <c>conveyor parse</c>, the NDJSON sink,
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
    public static string FormatTimestamp(DateTimeOffset value) =>
        value.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFFzzz", CultureInfo.InvariantCulture);

    /// <summary>Writes <paramref name="e"/> as one JSON object.</summary>
    public static void Write(Utf8JsonWriter writer, LogEvent e)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(e);
        writer.WriteStartObject();
        writer.WriteString("id", e.Id);
        writer.WriteString("source", e.Source);
        if (e.Timestamp is { } ts)
        {
            writer.WriteString("timestamp", FormatTimestamp(ts));
        }
        else
        {
            writer.WriteNull("timestamp");
        }

        writer.WriteString("observed_timestamp", FormatTimestamp(e.ObservedTimestamp));
        if (e.SeverityText is null)
        {
            writer.WriteNull("severity_text");
        }
        else
        {
            writer.WriteString("severity_text", e.SeverityText);
        }

        writer.WriteNumber("severity_number", e.SeverityNumber);
        writer.WriteString("body", e.Body);
        writer.WritePropertyName("attributes");
        WriteAttributes(writer, e.Attributes);
        writer.WritePropertyName("resource");
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

    /// <summary>Writes attributes as one JSON object, each value with its JSON type.</summary>
    public static void WriteAttributes(Utf8JsonWriter writer, IEnumerable<KeyValuePair<string, object?>> attributes)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(attributes);
        writer.WriteStartObject();
        foreach (var (key, value) in attributes)
        {
            writer.WritePropertyName(key);
            WriteValue(writer, value);
        }

        writer.WriteEndObject();
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
}
