using System.CommandLine;
using Conveyor.Cli.Hosting;

namespace Conveyor.Cli.Commands;

/// <summary><c>conveyor run</c> (SPEC §3): the service, from defaults, a config file or ad-hoc <c>--from/--to</c>.</summary>
internal static class RunCommand
{
    public static Command Create()
    {
        var config = new Option<string?>("--config") { Description = "A config file (JSON or YAML). Without one: the zero-config defaults, or the --from/--to pipeline." };
        var from = new Option<string[]>("--from")
        {
            Description = "A source, repeatable: tcp://H:P, udp://H:P, syslog+tcp://H:P, syslog+udp://H:P, http://H:P, file:///path/glob*.log, stdin:. Replaces the configured sources.",
            AllowMultipleArgumentsPerToken = true,
        };
        var to = new Option<string[]>("--to")
        {
            Description = "A sink, repeatable: duckdb:PATH (the default store), sqlite:PATH, postgres:CONNSTR, ndjson:PATH, ndjson:- (stdout); for tests and benchmarks null: and slow:DURATION+URI. Replaces the configured sinks.",
            AllowMultipleArgumentsPerToken = true,
        };
        var format = new Option<string?>("--format") { Description = "The format of every source's lines: auto|combined|common|json|logfmt|syslog|syslog5424|syslog3164|plain (auto: per line; free text becomes a plain event)." };
        var stdin = new Option<bool>("--stdin") { Description = "Also read lines from standard input (same as --from stdin:)." };
        var buffer = new Option<string?>("--buffer") { Description = "The main buffer: memory (default) or disk:DIR (survives a crash; see docs/DURABILITY.md). Overrides buffer:type and buffer:path." };
        var demo = new Option<bool>("--demo") { Description = "Also run simulated web servers at the 50,000 lines/s peak, with a live view." };
        var command = new Command("run", "Run the log service: receive, parse, enrich and store logs until SIGTERM/SIGINT, then drain and report.")
        {
            config,
            from,
            to,
            format,
            stdin,
            buffer,
            demo,
        };
        command.SetAction(async (ParseResult r, CancellationToken ct) =>
        {
            var sources = (r.GetValue(from) ?? []).ToList();
            if (r.GetValue(stdin))
            {
                sources.Add("stdin:");
            }

            var request = new RunRequest(r.GetValue(config), sources, r.GetValue(to) ?? [], r.GetValue(format), r.GetValue(demo), r.GetValue(buffer));
            var (options, errors) = ConfigLoader.Load(request);
            if (errors.Count > 0)
            {
                await ValidateCommand.PrintErrorsAsync(request.ConfigPath, errors).ConfigureAwait(false);
                return 2;
            }

            return request.Demo ? await DemoRunner.RunAsync(options).ConfigureAwait(false) : await ServiceHost.RunAsync(options).ConfigureAwait(false);
        });
        return command;
    }
}
