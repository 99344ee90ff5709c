using Conveyor.Logs.Configuration;
using Conveyor.Logs.Model;
using Microsoft.Extensions.Logging;

namespace Conveyor.Logs.Sources.Http;

/// <summary>An HTTP source: its settings, counters, the budget of its bodies in flight and the log of its clients' faults.</summary>
public sealed record HttpSourceBinding(SourceOptions Options, SourceInfo Info)
{
    private RateLimitedLog? _faults;

    /// <summary>The bytes of request bodies held at once (<see cref="SourceOptions.MaxBodyBytesInFlight"/>).</summary>
    public BodyBudget Bodies { get; } = new(Options.MaxBodyBytesInFlight);

    /// <summary>Counts a client fault and logs it as a rate-limited one-line warning.</summary>
    public void OnClientFault(ILoggerFactory? loggers, TimeProvider time, string remote, string reason)
    {
        Info.OnClientFault();
        if (loggers is not null)
        {
            LazyInitializer.EnsureInitialized(ref _faults, () => new RateLimitedLog(loggers.CreateLogger("Conveyor.Ingest"), Info.Name, "client fault", time));
            _faults.Warn(remote, reason);
        }
    }
}
