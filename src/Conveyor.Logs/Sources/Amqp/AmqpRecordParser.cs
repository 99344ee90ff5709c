using Conveyor.Logs.Amqp;
using Conveyor.Logs.Parsing;

namespace Conveyor.Logs.Sources.Amqp;

/// <summary>
/// The parser of an <c>amqp://</c> source: each line it is given is one record of a message (<see cref="RecordWriter"/>'s
/// encoding). An event is decoded as the edge published it; a raw line is parsed by the source's own format, with the
/// edge's source name, id and receive time; a dead letter stays one. A record that cannot be decoded becomes a dead
/// letter of parser <c>amqp</c> with the reason, and the others of its message flow on.
/// </summary>
/// <remarks>Events decoded here still pass the worker's enrichers, which are idempotent: enriching twice gives the same event.</remarks>
public sealed class AmqpRecordParser : ILogParser
{
    private readonly ILogParser _lines;

    /// <summary>Creates the parser; <paramref name="lines"/> parses raw records.</summary>
    public AmqpRecordParser(ILogParser lines)
    {
        ArgumentNullException.ThrowIfNull(lines);
        _lines = lines;
    }

    /// <inheritdoc />
    public string Name => "amqp";

    /// <inheritdoc />
    public ParseOutcome Parse(ReadOnlySpan<byte> line, in LineContext context)
    {
        try
        {
            var reader = new RecordReader(line);
            var (kind, id, source, time) = reader.ReadHeader();
            return kind switch
            {
                RecordKind.Raw => _lines.Parse(reader.Remaining, new LineContext(source, id, time)),
                RecordKind.Event => ParseOutcome.Success(reader.ReadEvent(id, source, time)),
                RecordKind.DeadLetter => ParseOutcome.Failure(reader.ReadDeadLetter(id, source, time)),
                _ => ParseOutcome.Failure(Name, $"amqp: unknown record kind {(byte)kind}", line, context),
            };
        }
        catch (FormatException ex)
        {
            return ParseOutcome.Failure(Name, "amqp: undecodable record: " + ex.Message, line, context);
        }
    }
}
