using System.Buffers;
using System.Text.Json;
using Conveyor.Logs.Enrichment;
using Conveyor.Logs.Model;

namespace Conveyor.Logs.Parsing;

/// <summary>
/// The streaming core of <c>conveyor parse</c> (docs/REFERENCE.md, "conveyor parse"): bytes in, one JSON line per input line out, in order. It lives
/// here rather than in the executable so it is testable in-process and reusable by a stdin source.
/// </summary>
public static class LineParseRunner
{
    private const int InitialBuffer = 64 * 1024;

    /// <summary>
    /// Reads LF-separated lines from <paramref name="input"/> (a trailing CR is dropped), streaming, and writes one JSON
    /// object per line to <paramref name="output"/> (left open): the event as <see cref="LogEventJson"/> shapes it, or
    /// <c>{"line":N,"error":"reason"}</c>. Ids are <c>source:line</c>. Returns how many lines each format read.
    /// </summary>
    public static async Task<ParseSummary> RunAsync(Stream input, Stream output, ILogParser parser, EnricherChain? enrichers, string source, TimeProvider time, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(parser);
        ArgumentNullException.ThrowIfNull(time);
        // Not disposed: that would close the caller's stream. Flushed at the end instead.
        var buffered = new BufferedStream(output, 64 * 1024);
        var summary = new ParseSummary();
        var writer = new Utf8JsonWriter(buffered, LogEventJson.WriterOptions);
        await using (writer.ConfigureAwait(false))
        {
            var buffer = ArrayPool<byte>.Shared.Rent(InitialBuffer);
            try
            {
                var start = 0;
                var end = 0;
                long lineNumber = 0;
                var eof = false;
                while (true)
                {
                    var lf = buffer.AsSpan(start, end - start).IndexOf((byte)'\n');
                    if (lf < 0 && !eof)
                    {
                        if (start > 0)
                        {
                            Buffer.BlockCopy(buffer, start, buffer, 0, end - start);
                            end -= start;
                            start = 0;
                        }

                        if (end == buffer.Length)
                        {
                            var larger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                            Buffer.BlockCopy(buffer, 0, larger, 0, end);
                            ArrayPool<byte>.Shared.Return(buffer);
                            buffer = larger;
                        }

                        var read = await input.ReadAsync(buffer.AsMemory(end), ct).ConfigureAwait(false);
                        eof = read == 0;
                        end += read;
                        continue;
                    }

                    if (lf < 0 && start == end)
                    {
                        break;
                    }

                    var length = lf < 0 ? end - start : lf;
                    var line = buffer.AsMemory(start, length);
                    start += lf < 0 ? length : length + 1;
                    if (line.Length > 0 && line.Span[^1] == '\r')
                    {
                        line = line[..^1];
                    }

                    lineNumber++;
                    summary.Count(WriteLine(writer, parser, enrichers, line.Span, source, lineNumber, time.GetUtcNow()));
                    writer.Flush();
                    buffered.WriteByte((byte)'\n');
                    writer.Reset();
                    if (lineNumber % 256 == 0)
                    {
                        await buffered.FlushAsync(ct).ConfigureAwait(false);
                    }
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }

        await buffered.FlushAsync(ct).ConfigureAwait(false);
        return summary;
    }

    private static ParseOutcome WriteLine(Utf8JsonWriter writer, ILogParser parser, EnricherChain? enrichers, ReadOnlySpan<byte> line, string source, long lineNumber, DateTimeOffset now)
    {
        var context = new LineContext(source, source + ":" + lineNumber, now);
        var outcome = parser.Parse(line, context);
        if (outcome.Event is { } e)
        {
            enrichers?.Apply(e);
            LogEventJson.Write(writer, e);
        }
        else
        {
            writer.WriteStartObject();
            writer.WriteNumber("line", lineNumber);
            writer.WriteString("error", outcome.DeadLetter!.Reason);
            writer.WriteEndObject();
        }

        return outcome;
    }
}

/// <summary>What a <see cref="LineParseRunner"/> run read: lines per format (as <see cref="ParseOutcome.Format"/> names them) and failures.</summary>
public sealed class ParseSummary
{
    private readonly SortedDictionary<string, long> _formats = new(StringComparer.Ordinal);

    /// <summary>Lines read, parsed or not.</summary>
    public long Lines { get; private set; }

    /// <summary>Lines that failed (printed as <c>{"line":N,"error":…}</c>).</summary>
    public long Failed { get; private set; }

    /// <summary>Parsed lines per format, e.g. <c>combined</c>, <c>json</c>, <c>plain</c>.</summary>
    public IReadOnlyDictionary<string, long> Formats => _formats;

    /// <summary>One line, e.g. <c>5 lines: 2 combined, 2 plain; 1 failed</c>.</summary>
    public override string ToString() =>
        Lines + " lines" + (_formats.Count > 0 ? ": " + string.Join(", ", _formats.Select(f => f.Value + " " + f.Key)) : string.Empty)
        + (Failed > 0 ? "; " + Failed + " failed" : string.Empty);

    internal void Count(in ParseOutcome outcome)
    {
        Lines++;
        if (outcome.Event is null)
        {
            Failed++;
            return;
        }

        var format = outcome.Format ?? "unknown";
        _formats[format] = _formats.GetValueOrDefault(format) + 1;
    }
}
