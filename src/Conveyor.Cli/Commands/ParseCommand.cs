using System.CommandLine;
using Conveyor.Logs.Enrichment;
using Conveyor.Logs.Parsing;

namespace Conveyor.Cli.Commands;

/// <summary>
/// <c>conveyor parse</c> (docs/REFERENCE.md, "conveyor parse"): parses lines to JSON lines on stdout, one output line per
/// input line, in order; then one line on stderr counting the lines per format and the failures.
/// </summary>
internal static class ParseCommand
{
    public static Command Create()
    {
        var format = new Option<string>("--format")
        {
            Description = "Input format: auto|combined|common|json|logfmt|syslog|syslog5424|syslog3164|plain. auto detects it per line; a line of no known format is a plain event (body = the line, severity from a leading level word) and a line that starts like a format but breaks it fails with the reason. Any other format fails every line that is not in it.",
            DefaultValueFactory = _ => "auto",
        };
        format.AcceptOnlyFromAmong([.. LogParsers.BuiltInFormats]);
        var enrich = new Option<bool>("--enrich") { Description = "Apply the default enrichers (status class, severity from status, user agent)." };
        var file = new Argument<string>("file")
        {
            Description = "The file to read, or - for standard input.",
            DefaultValueFactory = _ => "-",
        };
        var command = new Command("parse", "Parse log lines to JSON lines on stdout; a line that fails prints {\"line\": N, \"error\": reason}. Lines per format and failures are counted on stderr. Exit code 0 even when lines fail.")
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
                    using var enrichers = r.GetValue(enrich) ? EnricherChain.Create(new EnricherOptions()) : null;
                    var summary = await LineParseRunner.RunAsync(input, output, parser, enrichers, stdin ? "stdin" : Path.GetFileName(path), TimeProvider.System, ct).ConfigureAwait(false);
                    // stdout carries only the JSON lines; what each format read goes to stderr.
                    await Console.Error.WriteLineAsync("conveyor parse: " + summary).ConfigureAwait(false);
                }
            }

            return 0;
        });
        return command;
    }
}
