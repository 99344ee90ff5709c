namespace Conveyor.Logs.Diagnostics;

/// <summary>What a graceful stop achieved, logged when the service exits.</summary>
public sealed record ShutdownReport
{
    /// <summary>Records the sources received.</summary>
    public long Received { get; init; }

    /// <summary>Records written into the main buffer.</summary>
    public long Admitted { get; init; }

    /// <summary>Records refused to senders that were told (HTTP 429/503); they still hold them.</summary>
    public long Refused { get; init; }

    /// <summary>Records sources lost with no one told (UDP with no room, dropping main-buffer policies).</summary>
    public long DroppedAtSources { get; init; }

    /// <summary>Records the main buffer dropped under its full policy.</summary>
    public long DroppedAtMain { get; init; }

    /// <summary>Records parsed into events.</summary>
    public long ParsedEvents { get; init; }

    /// <summary>Records that became dead letters at the sources or the parsers.</summary>
    public long ParseDeadLetters { get; init; }

    /// <summary>Per sink: stored, dead-lettered, dropped and failed.</summary>
    public IReadOnlyList<SinkReport> Sinks { get; init; } = [];

    /// <summary>Items left unprocessed when the drain deadline passed (in all stages).</summary>
    public long Left { get; init; }

    /// <summary>True when everything drained before the deadline.</summary>
    public bool Completed { get; init; }

    /// <summary>How long the drain took.</summary>
    public TimeSpan Took { get; init; }
}

/// <summary>One sink's part of a <see cref="ShutdownReport"/> or of the pipeline state.</summary>
public sealed record SinkReport
{
    /// <summary>The sink's name.</summary>
    public string Name { get; init; } = string.Empty;

    /// <summary><c>pace</c> or <c>isolate</c>.</summary>
    public string Mode { get; init; } = string.Empty;

    /// <summary>Events stored.</summary>
    public long StoredEvents { get; init; }

    /// <summary>Dead letters (from sources and parsers) stored.</summary>
    public long StoredDeadLetters { get; init; }

    /// <summary>Events the sink refused and that were stored as dead letters instead.</summary>
    public long Rejected { get; init; }

    /// <summary>Records lost because the sink failed for good (logged one by one).</summary>
    public long Failed { get; init; }

    /// <summary>Records its queue dropped under its full policy (isolate mode).</summary>
    public long DroppedAtQueue { get; init; }

    /// <summary>Records still queued.</summary>
    public long Queued { get; init; }

    /// <summary>Records in a write now.</summary>
    public long InFlight { get; init; }
}
