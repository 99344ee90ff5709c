namespace Conveyor.Logs.Sinks;

/// <summary>
/// A store with maintenance: it deletes old data on request by the limits it was opened with (SQLite, PostgreSQL;
/// <see cref="RetentionSettings"/>), and may do other upkeep there (PostgreSQL indexes closed days). <c>conveyor run</c>
/// calls <see cref="ApplyRetentionAsync"/> at start-up and every <see cref="RetentionSettings.Interval"/>
/// (<c>Topology.StoreMaintenance</c>); find it behind the wrappers with <c>SinkChain.Find</c>.
/// </summary>
public interface ILogRetention
{
    /// <summary>Deletes what the sink's retention options say is too old or too much; a no-op without such options.</summary>
    Task<RetentionResult> ApplyRetentionAsync(CancellationToken cancellationToken = default);
}
