using System.CommandLine;
using Conveyor.Cli.Hosting;

namespace Conveyor.Cli.Commands;

/// <summary><c>conveyor validate --config FILE</c> (docs/REFERENCE.md, "Command line"): each problem with its key; exit 0 when valid, 2 when not.</summary>
internal static class ValidateCommand
{
    public static Command Create()
    {
        var config = new Option<string>("--config") { Description = "The config file to check (JSON or YAML).", Required = true };
        var command = new Command("validate", "Check a config file and print each problem with its key.") { config };
        command.SetAction(async (ParseResult r, CancellationToken ct) =>
        {
            var path = r.GetValue(config)!;
            var (options, errors) = ConfigLoader.Load(new RunRequest(path, [], [], null, false));
            if (errors.Count > 0)
            {
                await PrintErrorsAsync(path, errors).ConfigureAwait(false);
                return 2;
            }

            await Console.Error.WriteLineAsync($"{path}: valid ({options.Sources.Count} sources, {options.Sinks.Count} sinks)").ConfigureAwait(false);
            return 0;
        });
        return command;
    }

    /// <summary>Prints every problem on stderr, one per line, as <c>key: problem</c>.</summary>
    public static async Task PrintErrorsAsync(string? path, IReadOnlyList<string> errors)
    {
        await Console.Error.WriteLineAsync($"{path ?? "configuration"}: {errors.Count} problem{(errors.Count == 1 ? string.Empty : "s")}").ConfigureAwait(false);
        foreach (var e in errors)
        {
            await Console.Error.WriteLineAsync("  " + e).ConfigureAwait(false);
        }
    }
}
