using Conveyor.Logs.Configuration;
using Conveyor.Logs.Sinks;

namespace Conveyor.Logs.Pipeline;

/// <summary>Opens the sinks of a <see cref="PipelineOptions"/>, each by its URI scheme through <see cref="SinkRegistry"/>.</summary>
public static class SinkOpener
{
    /// <summary>The store a sink writes, under its <see cref="ResilientSink"/> and <c>slow:</c> wrappers; null when there is none.</summary>
    public static T? Unwrap<T>(ILogSink sink)
        where T : class, ILogSink
    {
        ArgumentNullException.ThrowIfNull(sink);
        while (true)
        {
            switch (sink)
            {
                case T found:
                    return found;
                case ResilientSink r:
                    sink = r.Inner;
                    break;
                case Sinks.Slow.SlowSink s:
                    sink = s.Inner;
                    break;
                default:
                    return null;
            }
        }
    }

    /// <summary>Opens every sink; on failure, closes the ones already open and rethrows.</summary>
    public static async Task<IReadOnlyList<TopologySink>> OpenAllAsync(IReadOnlyList<SinkOptions> sinks, TimeProvider? timeProvider, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(sinks);
        var opened = new List<TopologySink>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            foreach (var options in sinks)
            {
                var sink = await SinkRegistry.OpenAsync(options.Uri, new SinkContext(timeProvider) { DuckDb = options.DuckDb }, cancellationToken).ConfigureAwait(false);
                var name = sink.Name;
                for (var i = 2; !names.Add(name); i++)
                {
                    name = sink.Name + "-" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
                }

                opened.Add(new TopologySink(name, options, sink));
            }

            return opened;
        }
        catch
        {
            foreach (var s in opened)
            {
                await s.Sink.DisposeAsync().ConfigureAwait(false);
            }

            throw;
        }
    }
}
