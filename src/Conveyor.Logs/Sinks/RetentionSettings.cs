namespace Conveyor.Logs.Sinks;

/// <summary>
/// How much a store keeps (config section <c>sinks:N:retention</c>). <c>conveyor run</c> applies it on a timer to
/// every store that implements <see cref="ILogRetention"/> (SQLite, PostgreSQL); a limit on a store that cannot
/// delete (an NDJSON file) is a configuration error.
/// </summary>
public sealed class RetentionSettings
{
    /// <summary>Events older than this (by their own time; observed time when they have none) are deleted. Default none: kept. E.g. <c>7d</c>.</summary>
    public TimeSpan? MaxAge { get; set; }

    /// <summary>The oldest events are deleted while the store takes more than this many bytes. Default none: unbounded.</summary>
    public long? MaxBytes { get; set; }

    /// <summary>
    /// How often the service runs the store's maintenance (retention, and on PostgreSQL indexing closed days); the
    /// first run is at start-up. Default 5 minutes; at least 1 second.
    /// </summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>True when a limit is set.</summary>
    public bool HasLimit => MaxAge is not null || MaxBytes is not null;
}
