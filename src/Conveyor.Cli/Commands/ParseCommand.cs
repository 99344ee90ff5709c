using System.Buffers;
using System.CommandLine;
using System.Text.Json;
using Conveyor.Logs.Enrichment;
using Conveyor.Logs.Model;
using Conveyor.Logs.Parsing;

namespace Conveyor.Cli.Commands;

/// <summary><c>conveyor parse</c> (SPEC §3): parses lines to JSON lines on stdout, one output line per input line, in order.</summary>
internal static class ParseCommand
{
    private const int InitialBuffer = 64 * 1024;

    public static Command Create()
    {
        var format = new Option<string>("--format")
        {
            Description = "Input format: auto|combined|common|json|logfmt|syslog|syslog5424|syslog3164.",
            DefaultValueFactory = _ => "auto",
        };
        format.AcceptOnlyFromAmong([.. LogParsers.BuiltInFormats]);
        var enrich = new Option<bool>("--enrich") { Description = "Apply the default enrichers (status class, severity from status, user agent)." };
        var file = new Argument<string>("file")
        {
            Description = "The file to read, or - for standard input.",
            DefaultValueFactory = _ => "-",
        };
        var command = new Command("parse", "Parse log lines to JSON lines on stdout; a line that fails prints {\"line\": N, \"error\": reason}. Exit code 0 even when lines fail.")
        {
            format,
            enrich,
            file,
        };
        command.SetAction(async (ParseResult r, CancellationToken ct) =>
        {
            var path = r.GetValue(file) ?? "-";
            var stdin = path == "-";
            if (!stdin && !File.Exists(path))
            {
                await Console.Error.WriteLineAsync($"conveyor parse: file not found: {path}").ConfigureAwait(false);
                return 2;
            }

            var input = stdin ? Console.OpenStandardInput() : new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, FileOptions.SequentialScan);
            await using (input.ConfigureAwait(false))
            {
                var output = Console.OpenStandardOutput();
                await using (output.ConfigureAwait(false))
                {
                    var parser = LogParsers.Create(r.GetValue(format) ?? "auto");
                    var enrichers = r.GetValue(enrich) ? EnricherChain.Create(new EnricherOptions()) : null;
                    await RunAsync(input, output, parser, enrichers, stdin ? "stdin" : Path.GetFileName(path), TimeProvider.System, ct).ConfigureAwait(false);
                }
            }

            return 0;
        });
        return command;
    }

    /// <summary>
    /// Reads LF-separated lines from <paramref name="input"/> (a trailing CR is dropped), streaming, and writes one JSON
    /// object per line to <paramref name="output"/>: the event as <see cref="LogEventJson"/> shapes it, or
    /// <c>{"line":N,"error":"reason"}</c>. Ids are <c>source:line</c>.
    /// </summary>
    public static async Task RunAsync(Stream input, Stream output, ILogParser parser, EnricherChain? enrichers, string source, TimeProvider time, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(parser);
        ArgumentNullException.ThrowIfNull(time);
        var buffered = new BufferedStream(output, 64 * 1024);
        await using (buffered.ConfigureAwait(false))
        {
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
                        WriteLine(writer, parser, enrichers, line.Span, source, lineNumber, time.GetUtcNow());
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
        }
    }

    private static void WriteLine(Utf8JsonWriter writer, ILogParser parser, EnricherChain? enrichers, ReadOnlySpan<byte> line, string source, long lineNumber, DateTimeOffset now)
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
    }
}
