namespace Conveyor.Logs.Model;

/// <summary>
/// One log record, shaped after the OpenTelemetry log data model (docs/REFERENCE.md, "Event model"), plus the
/// <see cref="Id"/> that makes storage idempotent and the <see cref="Source"/> it came from.
/// </summary>
/// <remarks>
/// An event is built by one parser and then owned by one worker at a time; it is not
/// thread-safe, and after it is handed to sinks it must not change.
/// </remarks>
public sealed class LogEvent
{
    private LogAttributes? _resource;

    // The body is either a string, or (from the line parsers) the received line's UTF-8 bytes, decoded on first read:
    // the NDJSON writer copies the bytes straight out, so the UTF-16 copy, the event's largest allocation, is never
    // made on that path. The bytes are the record's own array (RawLine.Data), which nothing changes after the source.
    private string? _body;
    private byte[]? _bodyUtf8;

    /// <summary>Creates an event whose body is the raw record and whose observed time is now.</summary>
    /// <param name="id">Stable per input record (source + position), so a replay yields the same id.</param>
    /// <param name="source">The name of the source that received the record.</param>
    /// <param name="body">The original line, or for syslog the MSG part.</param>
    /// <param name="observedTimestamp">When Conveyor received the record.</param>
    public LogEvent(string id, string source, string body, DateTimeOffset observedTimestamp)
        : this(id, source, observedTimestamp)
    {
        ArgumentNullException.ThrowIfNull(body);
        _body = body;
    }

    /// <summary>Creates an event whose body is the raw record given as UTF-8 and whose observed time is now.</summary>
    /// <param name="id">Stable per input record (source + position), so a replay yields the same id.</param>
    /// <param name="source">The name of the source that received the record.</param>
    /// <param name="bodyUtf8">The whole original line as UTF-8; the event keeps the array, which must not change after
    /// (invalid UTF-8 reads back as U+FFFD, as <see cref="System.Text.Encoding.UTF8"/> decodes it).</param>
    /// <param name="observedTimestamp">When Conveyor received the record.</param>
    public LogEvent(string id, string source, byte[] bodyUtf8, DateTimeOffset observedTimestamp)
        : this(id, source, observedTimestamp)
    {
        ArgumentNullException.ThrowIfNull(bodyUtf8);
        _bodyUtf8 = bodyUtf8;
    }

    private LogEvent(string id, string source, DateTimeOffset observedTimestamp)
    {
        ArgumentNullException.ThrowIfNull(id);
        ArgumentNullException.ThrowIfNull(source);
        Id = id;
        Source = source;
        ObservedTimestamp = observedTimestamp;
    }

    /// <summary>Stable per input record; the key of idempotent storage.</summary>
    public string Id { get; }

    /// <summary>The name of the source that received the record.</summary>
    public string Source { get; }

    /// <summary>When the event happened, as the record says, with the record's own offset; null when the record has no time.</summary>
    public DateTimeOffset? Timestamp { get; set; }

    /// <summary>When Conveyor received the record.</summary>
    public DateTimeOffset ObservedTimestamp { get; set; }

    /// <summary>The severity as the record wrote it, or as an enricher derived it (e.g. <c>ERROR</c>); null when unknown.</summary>
    public string? SeverityText { get; set; }

    /// <summary>OpenTelemetry severity number 1–24; 0 means unspecified.</summary>
    public int SeverityNumber { get; set; }

    /// <summary>The original line, or for syslog the MSG part.</summary>
    /// <remarks>
    /// Reading it may decode the received bytes once. Two sinks reading it at once may both decode: each gets an equal
    /// string and one of them is kept, so the race is harmless and needs no lock.
    /// </remarks>
    public string Body
    {
        get => _body ??= System.Text.Encoding.UTF8.GetString(_bodyUtf8!);
        set
        {
            ArgumentNullException.ThrowIfNull(value);
            _body = value;
            _bodyUtf8 = null;
        }
    }

    /// <summary>
    /// The body as the received UTF-8 bytes, when it is still those (built from bytes and not replaced); false when the
    /// body is a string (then read <see cref="Body"/>).
    /// </summary>
    public bool TryGetBodyUtf8(out ReadOnlySpan<byte> utf8)
    {
        utf8 = _bodyUtf8;
        return _bodyUtf8 is not null;
    }

    /// <summary>The W3C trace id the record belongs to, 32 lowercase hex digits; null when the record names none.</summary>
    public string? TraceId { get; set; }

    /// <summary>The W3C span id the record belongs to, 16 lowercase hex digits; null when the record names none.</summary>
    public string? SpanId { get; set; }

    /// <summary>W3C trace flags (OTLP <c>flags</c>, e.g. 1 = sampled); null when not given.</summary>
    public int? TraceFlags { get; set; }

    /// <summary>The OpenTelemetry event name (<c>event_name</c>); null for a plain log record.</summary>
    public string? EventName { get; set; }

    /// <summary>Semantic-convention attributes of the record.</summary>
    public LogAttributes Attributes { get; } = new();

    /// <summary>Attributes of the producing entity (service, host); allocated on first use.</summary>
    public LogAttributes Resource => _resource ??= new LogAttributes();

    /// <summary>True when <see cref="Resource"/> holds at least one attribute, without allocating it.</summary>
    public bool HasResource => _resource is { Count: > 0 };

    /// <summary>The time used for ordering and retention: <see cref="Timestamp"/>, else <see cref="ObservedTimestamp"/>.</summary>
    public DateTimeOffset EffectiveTimestamp => Timestamp ?? ObservedTimestamp;
}
