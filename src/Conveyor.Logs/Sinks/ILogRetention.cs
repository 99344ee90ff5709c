namespace Conveyor.Logs.Sinks;

/// <summary>
/// A store that deletes old data on request. The service calls <see cref="ApplyRetentionAsync"/> periodically
/// (e.g. every few minutes) on sinks that implement it; for a wrapped sink test <see cref="ResilientSink.Inner"/>.
/// </summary>
public interface ILogRetention
{
    /// <summary>Deletes what the sink's retention options say is too old or too much; a no-op without such options.</summary>
    Task<RetentionResult> ApplyRetentionAsync(CancellationToken cancellationToken = default);
}
