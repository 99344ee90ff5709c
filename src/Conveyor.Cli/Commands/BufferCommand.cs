using System.CommandLine;
using System.Globalization;
using Conveyor.Durable;

namespace Conveyor.Cli.Commands;

/// <summary>
/// <c>conveyor buffer inspect|verify DIR</c>: what a disk buffer holds, and whether every record in it is intact.
/// Both only read (the buffer may be in use); the report goes to stdout. Exit 0 healthy, 1 damage found, 2 no buffer.
/// </summary>
internal static class BufferCommand
{
    public static Command Create()
    {
        var command = new Command("buffer", "Look into a disk buffer (buffer:type disk) without changing it.");
        command.Subcommands.Add(Create("inspect", "Segments, records, unacknowledged records, bytes and any damage.", verbose: true));
        command.Subcommands.Add(Create("verify", "Check every record's checksum; exit 0 when healthy, 1 when damage was found.", verbose: false));
        return command;
    }

    private static Command Create(string name, string description, bool verbose)
    {
        var directory = new Argument<string>("DIR") { Description = "The buffer directory (buffer:path)." };
        var command = new Command(name, description) { directory };
        command.SetAction(async (ParseResult r, CancellationToken ct) =>
        {
            var path = r.GetValue(directory)!;
            DiskBufferInspection inspection;
            try
            {
                inspection = DiskBuffer.Inspect(path);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                await Console.Error.WriteLineAsync($"{path}: {ex.Message}").ConfigureAwait(false);
                return 2;
            }

            var o = Console.Out;
            await o.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{inspection.Directory}: {inspection.Segments.Count} segments, {inspection.Records} records ({inspection.Unacknowledged} unacknowledged), {inspection.Bytes} bytes")).ConfigureAwait(false);
            if (verbose)
            {
                foreach (var s in inspection.Segments)
                {
                    await o.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"  {s.Name}  {s.Bytes,12} bytes  {s.Records,9} records  sequences {s.FirstSequence}..{s.LastSequence}  unacknowledged {s.Unacknowledged}")).ConfigureAwait(false);
                }
            }

            if (inspection.CheckpointProblem is { } problem)
            {
                await o.WriteLineAsync("  checkpoint: " + problem).ConfigureAwait(false);
            }

            foreach (var c in inspection.Corrupt)
            {
                await o.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"  damaged: {c.Segment} at offset {c.Offset}, {c.Length} bytes: {c.Reason}")).ConfigureAwait(false);
            }

            await o.WriteLineAsync(inspection.IsHealthy ? "healthy" : "damaged: the next open skips these regions and moves them into corrupt/").ConfigureAwait(false);
            return inspection.IsHealthy ? 0 : 1;
        });
        return command;
    }
}
