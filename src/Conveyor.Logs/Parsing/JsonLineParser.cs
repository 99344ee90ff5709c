using System.Collections.ObjectModel;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Conveyor.Logs.Model;

namespace Conveyor.Logs.Parsing;

/// <summary>
/// One JSON object per line (docs/REFERENCE.md, "JSON lines"). Known keys map to the model (<see cref="KnownFields"/>);
/// the rest become attributes with their JSON types (numbers as <see cref="JsonNumber"/> reads them), nested objects
/// flattened with dots (<c>{"a":{"b":1}}</c> → <c>a.b</c>; an empty object is kept as <c>{}</c>), arrays kept as lists
/// whose objects stay objects. Without a message key the body is the raw line. Invalid UTF-8 bytes and lone surrogate
/// escapes become U+FFFD; the rest of the record is kept.
/// </summary>
internal sealed class JsonLineParser(TimeZoneInfo zone) : ILogParser
{
    private static readonly JsonReaderOptions ReaderOptions = new() { MaxDepth = 64, CommentHandling = JsonCommentHandling.Disallow };

    /// <summary>The value of an empty JSON object; shared, because an event's values never change once parsed.</summary>
    private static readonly IReadOnlyDictionary<string, object?> EmptyObject = ReadOnlyDictionary<string, object?>.Empty;

    public string Name => "json";

    public ParseOutcome Parse(ReadOnlySpan<byte> line, in LineContext context)
    {
        var trimmed = line.TrimStart(" \t"u8);
        if (trimmed.IsEmpty || trimmed[0] != '{')
        {
            return ParseOutcome.Failure(Name, Name + ": expected '{' at column " + (line.Length - trimmed.Length + 1), line, context);
        }

        // Invalid UTF-8 costs the bytes, not the record: they become U+FFFD, as the other formats decode them, and the
        // valid fields are kept. Only this rare path allocates a repaired copy.
        return System.Text.Unicode.Utf8.IsValid(line)
            ? ParseValid(line, line, context)
            : ParseValid(Encoding.UTF8.GetBytes(Utf8.Decode(line)), line, context);
    }

    /// <summary>Parses <paramref name="json"/> (valid UTF-8); <paramref name="line"/> is what the record said, for its body and dead letter.</summary>
    private ParseOutcome ParseValid(ReadOnlySpan<byte> json, ReadOnlySpan<byte> line, in LineContext context)
    {
        try
        {
            var reader = new Utf8JsonReader(json, ReaderOptions);
            reader.Read();
            var e = new LogEvent(context.Id, context.Source, string.Empty, context.ReceivedAt);
            var hasBody = false;
            ReadObject(ref reader, e, prefix: null, ref hasBody);
            if (reader.Read())
            {
                return ParseOutcome.Failure(Name, Name + ": unexpected data after the object at column " + (reader.TokenStartIndex + 1), line, context);
            }

            if (!hasBody)
            {
                e.Body = Utf8.Decode(line);
            }

            return ParseOutcome.Success(e, Name);
        }
        catch (JsonException ex)
        {
            return ParseOutcome.Failure(Name, Name + ": invalid JSON at column " + (ex.BytePositionInLine + 1) + ": " + FirstSentence(ex.Message), line, context);
        }
    }

    private static string FirstSentence(string message)
    {
        var cut = message.IndexOf(" LineNumber", StringComparison.Ordinal);
        return (cut > 0 ? message[..cut] : message).TrimEnd(' ', '.');
    }

    /// <summary>Flattens the object the reader is in; false when it had no members (the caller keeps it as <c>{}</c>).</summary>
    private bool ReadObject(ref Utf8JsonReader reader, LogEvent e, string? prefix, ref bool hasBody)
    {
        var any = false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            any = true;
            var name = (prefix is null && !reader.ValueIsEscaped ? KnownName(ref reader) : null) ?? ReadString(ref reader);
            var key = prefix is null ? name : prefix + "." + name;
            reader.Read();
            if (prefix is null && TryMapKnown(ref reader, e, name, ref hasBody))
            {
                continue;
            }

            if (reader.TokenType != JsonTokenType.StartObject)
            {
                e.Attributes.Set(key, ReadValue(ref reader));
            }
            else if (!ReadObject(ref reader, e, key, ref hasBody))
            {
                // An empty object is a value the record wrote; flattening alone would make it vanish.
                e.Attributes.Set(key, EmptyObject);
            }
        }

        return any;
    }

    /// <summary>
    /// The string at the reader, with a lone UTF-16 surrogate escape (<c>"\ud800"</c>), which
    /// <see cref="Utf8JsonReader.GetString"/> refuses, replaced by U+FFFD: the one broken character is lost, not the record.
    /// </summary>
    private static string ReadString(ref Utf8JsonReader reader)
    {
        try
        {
            return reader.GetString()!;
        }
        catch (InvalidOperationException) when (reader.ValueIsEscaped)
        {
            return UnescapeLenient(reader.ValueSpan);
        }
    }

    /// <summary>Unescapes a JSON string's raw bytes (valid JSON, valid UTF-8); a <c>\u</c> surrogate without its pair becomes U+FFFD.</summary>
    private static string UnescapeLenient(ReadOnlySpan<byte> raw)
    {
        var sb = new StringBuilder(raw.Length);
        while (!raw.IsEmpty)
        {
            var slash = raw.IndexOf((byte)'\\');
            if (slash < 0)
            {
                sb.Append(Encoding.UTF8.GetString(raw));
                break;
            }

            sb.Append(Encoding.UTF8.GetString(raw[..slash]));
            var c = raw[slash + 1];
            if (c != 'u')
            {
                sb.Append(c switch
                {
                    (byte)'b' => '\b',
                    (byte)'f' => '\f',
                    (byte)'n' => '\n',
                    (byte)'r' => '\r',
                    (byte)'t' => '\t',
                    _ => (char)c,
                });
                raw = raw[(slash + 2)..];
                continue;
            }

            var unit = (char)int.Parse(raw.Slice(slash + 2, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
            raw = raw[(slash + 6)..];
            if (char.IsHighSurrogate(unit) && raw.Length >= 6 && raw[0] == '\\' && raw[1] == 'u'
                && int.Parse(raw.Slice(2, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture) is var low
                && char.IsLowSurrogate((char)low))
            {
                sb.Append(unit).Append((char)low);
                raw = raw[6..];
            }
            else
            {
                sb.Append(char.IsSurrogate(unit) ? '\uFFFD' : unit);
            }
        }

        return sb.ToString();
    }

    /// <summary>The model keys as shared constants, so a key that maps to the model costs no string.</summary>
    private static string? KnownName(ref Utf8JsonReader reader) =>
        reader.ValueTextEquals("msg"u8) ? "msg"
        : reader.ValueTextEquals("message"u8) ? "message"
        : reader.ValueTextEquals("level"u8) ? "level"
        : reader.ValueTextEquals("severity"u8) ? "severity"
        : reader.ValueTextEquals("time"u8) ? "time"
        : reader.ValueTextEquals("ts"u8) ? "ts"
        : reader.ValueTextEquals("timestamp"u8) ? "timestamp"
        : reader.ValueTextEquals("@timestamp"u8) ? "@timestamp"
        : reader.ValueTextEquals("@t"u8) ? "@t"
        : reader.ValueTextEquals("@m"u8) ? "@m"
        : reader.ValueTextEquals("@mt"u8) ? "@mt"
        : reader.ValueTextEquals("@l"u8) ? "@l"
        : reader.ValueTextEquals("log.level"u8) ? "log.level"
        : reader.ValueTextEquals("Timestamp"u8) ? "Timestamp"
        : reader.ValueTextEquals("Level"u8) ? "Level"
        : reader.ValueTextEquals("LogLevel"u8) ? "LogLevel"
        : reader.ValueTextEquals("Message"u8) ? "Message"
        : null;

    private bool TryMapKnown(ref Utf8JsonReader reader, LogEvent e, string name, ref bool hasBody)
    {
        var type = reader.TokenType;
        if (KnownFields.IsTimestampKey(name) && (type == JsonTokenType.Number || (type == JsonTokenType.String && !reader.ValueIsEscaped)))
        {
            return KnownFields.TrySetTimestamp(e, reader.ValueSpan, zone);
        }

        if (KnownFields.IsSeverityKey(name))
        {
            if (type == JsonTokenType.String)
            {
                return KnownFields.TrySetSeverity(e, ReadString(ref reader));
            }

            return type == JsonTokenType.Number && reader.TryGetInt64(out var level) && KnownFields.TrySetSeverity(e, level);
        }

        if (KnownFields.IsMessageKey(name) && type == JsonTokenType.String && !hasBody)
        {
            e.Body = ReadString(ref reader);
            hasBody = true;
            return true;
        }

        return false;
    }

    private static object? ReadValue(ref Utf8JsonReader reader)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.String:
                return ReadString(ref reader);
            case JsonTokenType.Number:
                return JsonNumber.FromText(reader.ValueSpan);
            case JsonTokenType.True:
                return true;
            case JsonTokenType.False:
                return false;
            case JsonTokenType.StartArray:
                var list = new List<object?>();
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    list.Add(ReadValue(ref reader));
                }

                return list;
            case JsonTokenType.StartObject:
                var map = new Dictionary<string, object?>(StringComparer.Ordinal);
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    var name = ReadString(ref reader);
                    reader.Read();
                    map[name] = ReadValue(ref reader);
                }

                return map;
            default:
                return null;
        }
    }
}
