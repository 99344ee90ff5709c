using Conveyor.Logs.Configuration;
using Conveyor.Logs.Model;

namespace Conveyor.Logs.Sources.Http;

/// <summary>An HTTP source: its settings and counters.</summary>
public sealed record HttpSourceBinding(SourceOptions Options, SourceInfo Info);
