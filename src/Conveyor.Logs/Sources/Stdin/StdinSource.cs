using Conveyor.Logs.Pipeline;
using System.Globalization;
using System.IO.Pipelines;
using Conveyor.Logs.Configuration;
using Conveyor.Logs.Model;
using Conveyor.Logs.Sources.Framing;
using Microsoft.Extensions.Logging;

namespace Conveyor.Logs.Sources.Stdin;

/// <summary>
/// Lines from standard input (or any stream) until EOF; then the source ends by itself, and a service whose only
/// source it is drains and exits 0. Ids are <c>stdin:line#</c>.
/// </summary>
public sealed partial class StdinSource : LogSource
{
    private readonly Func<Stream> _open;

    /// <summary>Creates the source over <paramref name="open"/> (default: the process's standard input).</summary>
    public StdinSource(SourceOptions options, SourceInfo info, LineIntake output, ILogger logger, TimeProvider time, Func<Stream>? open = null)
        : base(options, info, output, logger, time)
    {
        _open = open ?? Console.OpenStandardInput;
    }

    /// <inheritdoc />
    public override bool EndsByItself => true;

    /// <inheritdoc />
    protected override Task BindAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc />
    protected override async Task RunAsync()
    {
        var stream = _open();
        await using (stream.ConfigureAwait(false))
        {
            var reader = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 64 * 1024, minimumReadSize: 16 * 1024));
            var prefix = Info.Name + ":";
            var pump = new FramedStream
            {
                Source = Info,
                Output = Output,
                Framer = new LineFramer(Options.MaxLineBytes).TryRead,
                IdFor = (line, _) => string.Create(CultureInfo.InvariantCulture, $"{prefix}{line}"),
                Time = Time,
                MaxFrameBytes = Options.MaxLineBytes,
            };
            var end = await pump.RunAsync(reader, StopReading, Abandon).ConfigureAwait(false);
            await reader.CompleteAsync().ConfigureAwait(false);
            LogEnded(Logger, Info.Name, pump.Frames, end.ToString());
        }
    }

    [LoggerMessage(EventId = 1301, Level = LogLevel.Information, Message = "Source {Source} ended after {Lines} lines ({End})")]
    private static partial void LogEnded(ILogger logger, string source, long lines, string end);
}
