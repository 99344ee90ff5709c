using Conveyor.Logs.Model;

namespace Conveyor.Logs.Parsing;

/// <summary>
/// The format <c>raw</c>: the line becomes the body of an event with its observed time, and nothing is parsed. For an
/// edge that forwards lines to workers (<c>--to amqp://…?format=raw</c>), which parse them with their own format.
/// </summary>
internal sealed class RawParser : ILogParser
{
    public string Name => "raw";

    public ParseOutcome Parse(ReadOnlySpan<byte> line, in LineContext context) =>
        ParseOutcome.Success(new LogEvent(context.Id, context.Source, Utf8.Decode(line), context.ReceivedAt));
}
