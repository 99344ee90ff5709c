using Conveyor.Logs.Parsing;
using Google.Protobuf;
using OpenTelemetry.Proto.Logs.V1;

namespace Conveyor.Logs.Sources.Otlp;

/// <summary>
/// The parser of the OTLP sources: reads the per-record envelope <see cref="OtlpIntake"/> wrote (a protobuf
/// <see cref="ResourceLogs"/> with one scope and one record) and maps it with <see cref="OtlpLogMapping"/>. The
/// receivers have already decoded and checked the request, so a failure here means the bytes were damaged on the way.
/// </summary>
public sealed class OtlpRecordParser : ILogParser
{
    /// <summary>The one instance; the parser holds no state.</summary>
    public static readonly OtlpRecordParser Instance = new();

    private OtlpRecordParser()
    {
    }

    /// <inheritdoc />
    public string Name => "otlp";

    /// <inheritdoc />
    public ParseOutcome Parse(ReadOnlySpan<byte> line, in LineContext context)
    {
        ResourceLogs envelope;
        try
        {
            envelope = ResourceLogs.Parser.ParseFrom(line);
        }
        catch (InvalidProtocolBufferException ex)
        {
            return ParseOutcome.Failure(new Model.DeadLetter(
                context.Id, context.Source, Name, Name + ": the record is not a valid OTLP ResourceLogs: " + ex.Message, Convert.ToBase64String(line), context.ReceivedAt));
        }

        return ParseOutcome.Success(OtlpLogMapping.ToEvent(envelope, context.Id, context.Source, context.ReceivedAt));
    }
}
