using System.Buffers;
using System.Text;
using System.Text.Json;
using Conveyor.Logs.Model;
using Google.Protobuf;
using OpenTelemetry.Proto.Collector.Logs.V1;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Logs.V1;
using OpenTelemetry.Proto.Resource.V1;

namespace Conveyor.Logs.Sources.Otlp;

/// <summary>
/// OTLP log records to events and back, one mapping for the receivers and the sink so that Conveyor → Conveyor
/// keeps every field:
/// <list type="bullet">
/// <item>resource attributes ↔ <see cref="LogEvent.Resource"/>; record attributes ↔ <see cref="LogEvent.Attributes"/>,
/// typed (string, long, double, bool, <c>byte[]</c>, lists, maps);</item>
/// <item>scope name, version, attributes, the schema URLs and the dropped-attribute count ↔ the
/// <see cref="OtlpAttributeNames"/> attributes;</item>
/// <item>a string body ↔ <see cref="LogEvent.Body"/>; any other body ↔ its JSON text in <c>Body</c> plus the typed
/// value in <see cref="OtlpAttributeNames.Body"/>;</item>
/// <item><c>time_unix_nano</c> ↔ <see cref="LogEvent.Timestamp"/> (0 = none), <c>observed_time_unix_nano</c> ↔
/// <see cref="LogEvent.ObservedTimestamp"/> (0 = the receive time), at the event model's 100 ns resolution;</item>
/// <item>severity number and text, trace and span ids (lowercase hex), <c>flags</c> and <c>event_name</c> ↔ the
/// event's fields of the same meaning.</item>
/// </list>
/// Not kept: the resource's and scope's dropped-attribute counts, resource entity references, and the record
/// time's UTC offset (OTLP times are UTC).
/// </summary>
internal static class OtlpLogMapping
{
    private const long UnixEpochTicks = 621_355_968_000_000_000;

    /// <summary>The digits of a hex id, either case.</summary>
    internal static readonly SearchValues<char> HexDigits = SearchValues.Create("0123456789abcdefABCDEF");

    /// <summary>
    /// The event of the one record in <paramref name="envelope"/> (a <see cref="ResourceLogs"/> holding one scope
    /// with one record: how an OTLP record travels through the main buffer, see <see cref="OtlpIntake"/>).
    /// </summary>
    public static LogEvent ToEvent(ResourceLogs envelope, string id, string source, DateTimeOffset receivedAt)
    {
        var scopeLogs = envelope.ScopeLogs.Count > 0 ? envelope.ScopeLogs[0] : new ScopeLogs();
        var record = scopeLogs.LogRecords.Count > 0 ? scopeLogs.LogRecords[0] : new LogRecord();
        var e = new LogEvent(id, source, string.Empty, record.ObservedTimeUnixNano == 0 ? receivedAt : FromUnixNanos(record.ObservedTimeUnixNano))
        {
            Timestamp = record.TimeUnixNano == 0 ? null : FromUnixNanos(record.TimeUnixNano),
            SeverityNumber = record.SeverityNumber is >= OpenTelemetry.Proto.Logs.V1.SeverityNumber.Trace and <= OpenTelemetry.Proto.Logs.V1.SeverityNumber.Fatal4 ? (int)record.SeverityNumber : 0,
            SeverityText = record.SeverityText.Length == 0 ? null : record.SeverityText,
            TraceId = ToHexId(record.TraceId, 16),
            SpanId = ToHexId(record.SpanId, 8),
            TraceFlags = record.Flags == 0 ? null : (int)record.Flags,
            EventName = record.EventName.Length == 0 ? null : record.EventName,
        };
        if (envelope.Resource is { } resource)
        {
            foreach (var kv in resource.Attributes)
            {
                e.Resource.Set(kv.Key, ToValue(kv.Value));
            }
        }

        switch (record.Body?.ValueCase ?? AnyValue.ValueOneofCase.None)
        {
            case AnyValue.ValueOneofCase.None:
                break;
            case AnyValue.ValueOneofCase.StringValue:
                e.Body = record.Body!.StringValue;
                break;
            default:
                var body = ToValue(record.Body);
                e.Body = JsonText(body);
                e.Attributes.Set(OtlpAttributeNames.Body, body);
                break;
        }

        foreach (var kv in record.Attributes)
        {
            e.Attributes.Set(kv.Key, ToValue(kv.Value));
        }

        if (record.DroppedAttributesCount > 0)
        {
            e.Attributes.Set(OtlpAttributeNames.DroppedAttributesCount, (long)record.DroppedAttributesCount);
        }

        if (scopeLogs.Scope is { } scope)
        {
            SetIfAny(e.Attributes, OtlpAttributeNames.ScopeName, scope.Name);
            SetIfAny(e.Attributes, OtlpAttributeNames.ScopeVersion, scope.Version);
            if (scope.Attributes.Count > 0)
            {
                e.Attributes.Set(OtlpAttributeNames.ScopeAttributes, ToMap(scope.Attributes));
            }
        }

        SetIfAny(e.Attributes, OtlpAttributeNames.ScopeSchemaUrl, scopeLogs.SchemaUrl);
        SetIfAny(e.Attributes, OtlpAttributeNames.ResourceSchemaUrl, envelope.SchemaUrl);
        return e;
    }

    /// <summary>
    /// One export request for <paramref name="events"/>: events with equal resources share a
    /// <see cref="ResourceLogs"/>, and within it events of the same scope share a <see cref="ScopeLogs"/>, in the
    /// order they first appear.
    /// </summary>
    public static ExportLogsServiceRequest ToRequest(IReadOnlyList<LogEvent> events)
    {
        var request = new ExportLogsServiceRequest();
        var resources = new Dictionary<string, (ResourceLogs Logs, Dictionary<string, ScopeLogs> Scopes)>(StringComparer.Ordinal);
        var json = new ArrayBufferWriter<byte>(256);
        foreach (var e in events)
        {
            e.Attributes.TryGetString(OtlpAttributeNames.ResourceSchemaUrl, out var resourceSchema);
            var resourceKey = (resourceSchema ?? string.Empty) + "\n" + (e.HasResource ? JsonText(e.Resource, json) : string.Empty);
            if (!resources.TryGetValue(resourceKey, out var r))
            {
                var logs = new ResourceLogs { Resource = new Resource(), SchemaUrl = resourceSchema ?? string.Empty };
                if (e.HasResource)
                {
                    AddAll(logs.Resource.Attributes, e.Resource);
                }

                r = (logs, new Dictionary<string, ScopeLogs>(StringComparer.Ordinal));
                resources.Add(resourceKey, r);
                request.ResourceLogs.Add(logs);
            }

            e.Attributes.TryGetString(OtlpAttributeNames.ScopeName, out var scopeName);
            e.Attributes.TryGetString(OtlpAttributeNames.ScopeVersion, out var scopeVersion);
            e.Attributes.TryGetString(OtlpAttributeNames.ScopeSchemaUrl, out var scopeSchema);
            e.Attributes.TryGetValue(OtlpAttributeNames.ScopeAttributes, out var scopeAttributes);
            var scopeKey = scopeName + "\n" + scopeVersion + "\n" + scopeSchema + "\n" + (scopeAttributes is null ? string.Empty : JsonText(scopeAttributes));
            if (!r.Scopes.TryGetValue(scopeKey, out var scopeLogs))
            {
                var scope = new InstrumentationScope { Name = scopeName ?? string.Empty, Version = scopeVersion ?? string.Empty };
                if (scopeAttributes is IEnumerable<KeyValuePair<string, object?>> map)
                {
                    AddAll(scope.Attributes, map);
                }

                scopeLogs = new ScopeLogs { Scope = scope, SchemaUrl = scopeSchema ?? string.Empty };
                r.Scopes.Add(scopeKey, scopeLogs);
                r.Logs.ScopeLogs.Add(scopeLogs);
            }

            scopeLogs.LogRecords.Add(ToRecord(e));
        }

        return request;
    }

    /// <summary>The OTLP record of one event (without its resource and scope).</summary>
    public static LogRecord ToRecord(LogEvent e)
    {
        var record = new LogRecord
        {
            TimeUnixNano = e.Timestamp is { } ts ? ToUnixNanos(ts) : 0,
            ObservedTimeUnixNano = ToUnixNanos(e.ObservedTimestamp),
            SeverityNumber = (OpenTelemetry.Proto.Logs.V1.SeverityNumber)e.SeverityNumber,
            SeverityText = e.SeverityText ?? string.Empty,
            TraceId = FromHexId(e.TraceId),
            SpanId = FromHexId(e.SpanId),
            Flags = e.TraceFlags is { } flags ? (uint)flags : 0,
            EventName = e.EventName ?? string.Empty,
        };
        if (e.Attributes.TryGetValue(OtlpAttributeNames.Body, out var typedBody))
        {
            record.Body = ToAnyValue(typedBody);
        }
        else
        {
            record.Body = new AnyValue { StringValue = e.Body };
        }

        foreach (var (key, value) in e.Attributes)
        {
            if (key == OtlpAttributeNames.DroppedAttributesCount && value is long dropped)
            {
                record.DroppedAttributesCount = (uint)Math.Clamp(dropped, 0, uint.MaxValue);
            }
            else if (!OtlpAttributeNames.IsEnvelope(key))
            {
                record.Attributes.Add(new KeyValue { Key = key, Value = ToAnyValue(value) });
            }
        }

        return record;
    }

    /// <summary>An OTLP value as an attribute value (see <see cref="LogAttributes"/> for the types).</summary>
    public static object? ToValue(AnyValue? value) => value?.ValueCase switch
    {
        AnyValue.ValueOneofCase.StringValue => value.StringValue,
        AnyValue.ValueOneofCase.BoolValue => value.BoolValue,
        AnyValue.ValueOneofCase.IntValue => value.IntValue,
        AnyValue.ValueOneofCase.DoubleValue => value.DoubleValue,
        AnyValue.ValueOneofCase.BytesValue => value.BytesValue.ToByteArray(),
        AnyValue.ValueOneofCase.ArrayValue => value.ArrayValue.Values.Select(ToValue).ToList(),
        AnyValue.ValueOneofCase.KvlistValue => ToMap(value.KvlistValue.Values),

        // string_value_strindex points into a dictionary only profiles carry; a log record has none to resolve it.
        _ => null,
    };

    /// <summary>An attribute value as an OTLP value; null becomes the empty value.</summary>
    public static AnyValue ToAnyValue(object? value)
    {
        switch (value)
        {
            case null:
                return new AnyValue();
            case string s:
                return new AnyValue { StringValue = s };
            case long l:
                return new AnyValue { IntValue = l };
            case int i:
                return new AnyValue { IntValue = i };
            case double d:
                return new AnyValue { DoubleValue = d };
            case bool b:
                return new AnyValue { BoolValue = b };
            case byte[] bytes:
                return new AnyValue { BytesValue = ByteString.CopyFrom(bytes) };
            case IEnumerable<KeyValuePair<string, object?>> map:
                var list = new KeyValueList();
                AddAll(list.Values, map);
                return new AnyValue { KvlistValue = list };
            case IReadOnlyDictionary<string, string> stringMap:
                var strings = new KeyValueList();
                foreach (var (k, v) in stringMap)
                {
                    strings.Values.Add(new KeyValue { Key = k, Value = new AnyValue { StringValue = v } });
                }

                return new AnyValue { KvlistValue = strings };
            case IEnumerable<object?> items:
                var array = new ArrayValue();
                foreach (var item in items)
                {
                    array.Values.Add(ToAnyValue(item));
                }

                return new AnyValue { ArrayValue = array };
            default:
                return new AnyValue { StringValue = Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture) ?? string.Empty };
        }
    }

    /// <summary>A nanosecond Unix time as an instant in UTC, truncated to 100 ns.</summary>
    public static DateTimeOffset FromUnixNanos(ulong nanos)
    {
        var ticks = (long)Math.Min(nanos / 100, (ulong)(DateTimeOffset.MaxValue.UtcTicks - UnixEpochTicks));
        return new DateTimeOffset(UnixEpochTicks + ticks, TimeSpan.Zero);
    }

    /// <summary>An instant as nanoseconds since the Unix epoch; 0 for instants before it (OTLP's "unset").</summary>
    public static ulong ToUnixNanos(DateTimeOffset t) => t.UtcTicks <= UnixEpochTicks ? 0 : (ulong)(t.UtcTicks - UnixEpochTicks) * 100;

    /// <summary>Lowercase hex of an id of <paramref name="length"/> bytes; null when absent, of another length, or all zero (invalid per W3C).</summary>
    private static string? ToHexId(ByteString id, int length)
    {
        var span = id.Span;
        return span.Length != length || !span.ContainsAnyExcept((byte)0) ? null : Convert.ToHexStringLower(span);
    }

    private static ByteString FromHexId(string? hex) =>
        hex is { Length: > 0 } && hex.Length % 2 == 0 && !hex.AsSpan().ContainsAnyExcept(HexDigits) ? ByteString.CopyFrom(Convert.FromHexString(hex)) : ByteString.Empty;

    private static Dictionary<string, object?> ToMap(IEnumerable<KeyValue> values)
    {
        // OTLP forbids duplicate keys but cannot prevent them; the last one wins, as in LogAttributes.Set.
        var map = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var kv in values)
        {
            map[kv.Key] = ToValue(kv.Value);
        }

        return map;
    }

    private static void AddAll(Google.Protobuf.Collections.RepeatedField<KeyValue> target, IEnumerable<KeyValuePair<string, object?>> values)
    {
        foreach (var (key, value) in values)
        {
            target.Add(new KeyValue { Key = key, Value = ToAnyValue(value) });
        }
    }

    private static void SetIfAny(LogAttributes attributes, string key, string value)
    {
        if (value.Length > 0)
        {
            attributes.Set(key, value);
        }
    }

    private static string JsonText(object? value)
    {
        var buffer = new ArrayBufferWriter<byte>(64);
        using (var writer = new Utf8JsonWriter(buffer, LogEventJson.WriterOptions))
        {
            LogEventJson.WriteValue(writer, value);
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static string JsonText(LogAttributes attributes, ArrayBufferWriter<byte> buffer)
    {
        buffer.ResetWrittenCount();
        using (var writer = new Utf8JsonWriter(buffer, LogEventJson.WriterOptions))
        {
            LogEventJson.WriteAttributes(writer, attributes);
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
