using System.CommandLine;

namespace Conveyor.Cli.Commands;

/// <summary>The <c>conveyor</c> command tree (SPEC §3). Each command lives in its own file and adds itself here.</summary>
internal static class CommandLine
{
    public static RootCommand Build()
    {
        var root = new RootCommand("Conveyor: a bounded, back-pressured log pipeline. Receive, parse, enrich, store and search logs.");
        root.Subcommands.Add(ParseCommand.Create());
        root.Subcommands.Add(QueryCommand.Create());
        root.Subcommands.Add(StoreCommand.Create());
        root.Subcommands.Add(RunCommand.Create());
        root.Subcommands.Add(ValidateCommand.Create());
        root.Subcommands.Add(GenCommand.Create());
        return root;
    }
}
