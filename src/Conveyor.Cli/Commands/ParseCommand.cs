using System.CommandLine;
using Conveyor.Logs.Enrichment;
using Conveyor.Logs.Parsing;

namespace Conveyor.Cli.Commands;

/// <summary><c>conveyor parse</c> (SPEC §3): parses lines to JSON lines on stdout, one output line per input line, in order.</summary>
internal static class ParseCommand
{
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
                    using var enrichers = r.GetValue(enrich) ? EnricherChain.Create(new EnricherOptions()) : null;
                    await LineParseRunner.RunAsync(input, output, parser, enrichers, stdin ? "stdin" : Path.GetFileName(path), TimeProvider.System, ct).ConfigureAwait(false);
                }
            }

            return 0;
        });
        return command;
    }
}
