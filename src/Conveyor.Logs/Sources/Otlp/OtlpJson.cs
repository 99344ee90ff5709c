using Google.Protobuf;
using OpenTelemetry.Proto.Collector.Logs.V1;

namespace Conveyor.Logs.Sources.Otlp;

/// <summary>
/// The OTLP/JSON encoding. It is the protobuf JSON mapping (lowerCamelCase names, enums as integers or names,
/// 64-bit integers as strings or numbers, bytes as base64) except that trace and span ids are hex, so requests are
/// read with Google.Protobuf's parser and the two id fields are then reinterpreted.
/// </summary>
internal static class OtlpJson
{
    // Receivers must ignore fields they do not know (the spec's forward compatibility rule).
    private static readonly JsonParser Parser = new(JsonParser.Settings.Default.WithIgnoreUnknownFields(true));

    private static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default.WithFormatDefaultValues(false));

    /// <summary>Reads an export request; throws <see cref="InvalidProtocolBufferException"/>, <see cref="InvalidJsonException"/> or <see cref="FormatException"/> with the reason.</summary>
    public static ExportLogsServiceRequest ParseRequest(string json)
    {
        var request = Parser.Parse<ExportLogsServiceRequest>(json);
        foreach (var resource in request.ResourceLogs)
        {
            foreach (var scope in resource.ScopeLogs)
            {
                foreach (var record in scope.LogRecords)
                {
                    record.TraceId = FromHex(record.TraceId, 16, "traceId");
                    record.SpanId = FromHex(record.SpanId, 8, "spanId");
                }
            }
        }

        return request;
    }

    /// <summary>Writes a response (or any message without ids) as JSON.</summary>
    public static string Format(IMessage message) => Formatter.Format(message);

    /// <summary>
    /// The id as the client wrote it: the parser decoded its hex digits as base64, which never fails for hex (every hex
    /// digit is a base64 character) and leaves no spare bits for lengths that are multiples of 4 (the 32 and 16 digit
    /// ids are), so encoding back yields exactly the digits sent. An id already of the binary length came as real
    /// base64 (the plain protobuf mapping) and is kept. Hex of another length becomes bytes of that length, which the
    /// receiver rejects as that one record (partial success), not as the whole request.
    /// </summary>
    private static ByteString FromHex(ByteString parsed, int length, string field)
    {
        if (parsed.Length == 0 || parsed.Length == length)
        {
            return parsed;
        }

        var digits = parsed.ToBase64();
        if (digits.Length % 2 != 0 || digits.AsSpan().ContainsAnyExcept(OtlpLogMapping.HexDigits))
        {
            throw new FormatException($"{field} must be {2 * length} hex digits (was '{digits}')");
        }

        return ByteString.CopyFrom(Convert.FromHexString(digits));
    }
}
