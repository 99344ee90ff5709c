namespace Conveyor.Logs.Sinks;

/// <summary>A sink that knows whether its writes are failing now (<see cref="ResilientSink"/>, and wrappers that forward it).</summary>
public interface IReportsSinkFailure
{
    /// <summary>The failure in progress: set by a failed write attempt, cleared by the next successful one; null while writes succeed.</summary>
    SinkFailure? CurrentFailure { get; }
}

/// <summary>Writes failing since <paramref name="Since"/>.</summary>
/// <param name="Attempts">Failed attempts since the last success.</param>
/// <param name="Since">When the first of them failed.</param>
/// <param name="LastError">The latest error's message.</param>
public readonly record struct SinkFailure(long Attempts, DateTimeOffset Since, string LastError);
