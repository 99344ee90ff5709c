using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;

namespace Conveyor.Logs.Sinks;

/// <summary>What <see cref="LogSinks.OpenAsync(string, SinkOpenOptions, CancellationToken)"/> needs beyond the URI; every member is optional.</summary>
public sealed class SinkOpenOptions
{
    /// <summary>Retry settings of the <see cref="ResilientSink"/> wrapper; defaults when null.</summary>
    public ResilientSinkOptions? Retry { get; init; }

    /// <summary>The clock for back-off, retention ages and failure reports; <see cref="TimeProvider.System"/> when null.</summary>
    public TimeProvider? TimeProvider { get; init; }

    /// <summary>Where the sink's counters live; a private <c>Conveyor</c> meter when null.</summary>
    public IMeterFactory? MeterFactory { get; init; }

    /// <summary>Where the wrapper reports failing and recovered writes; nowhere when null.</summary>
    public ILoggerFactory? LoggerFactory { get; init; }

    /// <summary>Retention limits the store enforces when asked (<see cref="ILogRetention"/>); none when null.</summary>
    public RetentionSettings? Retention { get; init; }

    /// <summary>
    /// The store's full-text index, by name: SQLite <c>words</c> (default) | <c>trigram</c> | <c>none</c>;
    /// PostgreSQL <c>trigram</c> (default) | <c>none</c>. Null: the store's default.
    /// </summary>
    public string? FullText { get; init; }
}
