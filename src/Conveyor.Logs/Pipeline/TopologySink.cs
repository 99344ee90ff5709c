using Conveyor.Logs.Configuration;
using Conveyor.Logs.Sinks;

namespace Conveyor.Logs.Pipeline;

/// <summary>A sink opened for a topology, with its settings and the mode it resolved to.</summary>
/// <param name="Name">Unique in the topology: the sink's own name, suffixed when two sinks share it.</param>
/// <param name="Options">Its settings.</param>
/// <param name="Sink">The open sink; the topology disposes it after draining.</param>
public sealed record TopologySink(string Name, SinkOptions Options, ILogSink Sink);
