using System.Text.Json;
using Conveyor.Logs.Model;

namespace Conveyor.Logs.Parsing;

/// <summary>
/// One JSON object per line (SPEC §2). Known keys map to the model (<see cref="KnownFields"/>); the rest become
/// attributes with their JSON types, nested objects flattened with dots (<c>{"a":{"b":1}}</c> → <c>a.b</c>), arrays kept
/// as lists whose objects stay objects. Without a message key the body is the raw line.
/// </summary>
internal sealed class JsonLineParser(TimeZoneInfo zone) : ILogParser
{
    private static readonly JsonReaderOptions ReaderOptions = new() { MaxDepth = 64, CommentHandling = JsonCommentHandling.Disallow };

    public string Name => "json";

    public ParseOutcome Parse(ReadOnlySpan<byte> line, in LineContext context)
    {
        if (!System.Text.Unicode.Utf8.IsValid(line))
        {
            return ParseOutcome.Failure(Name, Name + ": not valid UTF-8", line, context);
        }

        var trimmed = line.TrimStart(" \t"u8);
        if (trimmed.IsEmpty || trimmed[0] != '{')
        {
            return ParseOutcome.Failure(Name, Name + ": expected '{' at column " + (line.Length - trimmed.Length + 1), line, context);
        }

        try
        {
            var reader = new Utf8JsonReader(line, ReaderOptions);
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

            return ParseOutcome.Success(e);
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

    private void ReadObject(ref Utf8JsonReader reader, LogEvent e, string? prefix, ref bool hasBody)
    {
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = (prefix is null ? KnownName(ref reader) : null) ?? reader.GetString()!;
            var key = prefix is null ? name : prefix + "." + name;
            reader.Read();
            if (prefix is null && TryMapKnown(ref reader, e, name, ref hasBody))
            {
                continue;
            }

            if (reader.TokenType == JsonTokenType.StartObject)
            {
                ReadObject(ref reader, e, key, ref hasBody);
            }
            else
            {
                e.Attributes.Set(key, ReadValue(ref reader));
            }
        }
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
                return KnownFields.TrySetSeverity(e, reader.GetString()!);
            }

            return type == JsonTokenType.Number && reader.TryGetInt64(out var level) && KnownFields.TrySetSeverity(e, level);
        }

        if (KnownFields.IsMessageKey(name) && type == JsonTokenType.String && !hasBody)
        {
            e.Body = reader.GetString()!;
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
                return reader.GetString();
            case JsonTokenType.Number:
                // Boxed per branch: a ternary would widen the long to double.
                return reader.TryGetInt64(out var l) ? (object)l : reader.GetDouble();
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
                    var name = reader.GetString()!;
                    reader.Read();
                    map[name] = ReadValue(ref reader);
                }

                return map;
            default:
                return null;
        }
    }
}
