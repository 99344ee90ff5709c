namespace Conveyor.Logs.Parsing;

/// <summary>Settings shared by the parsers <see cref="LogParsers.Create"/> builds.</summary>
public sealed class ParserOptions
{
    /// <summary>
    /// The zone of timestamps that carry none: RFC 3164 dates, and JSON/logfmt/ISO values without an offset.
    /// Default: UTC.
    /// </summary>
    public TimeZoneInfo TimeZone { get; init; } = TimeZoneInfo.Utc;

    /// <summary>User-defined regex formats, selectable by their <see cref="PatternOptions.Name"/>. Default: none.</summary>
    public IReadOnlyList<PatternOptions> Patterns { get; init; } = [];
}

/// <summary>A user-defined format: a regular expression whose named groups become attributes.</summary>
public sealed class PatternOptions
{
    /// <summary>The format name used in config and by <c>--format</c>; must not be a built-in name. Required.</summary>
    public string Name { get; init; } = string.Empty;

    /// <summary>A .NET regular expression matched against the whole line (anchor it yourself). Required.</summary>
    public string Pattern { get; init; } = string.Empty;

    /// <summary>Group name → attribute name; a group not listed keeps its own name. Default: empty.</summary>
    public IReadOnlyDictionary<string, string> Attributes { get; init; } = new Dictionary<string, string>();

    /// <summary>The group holding the timestamp; that group is not copied to attributes. Default: none.</summary>
    public string? TimestampGroup { get; init; }

    /// <summary>
    /// A .NET custom date format for <see cref="TimestampGroup"/> (e.g. <c>dd/MMM/yyyy:HH:mm:ss zzz</c>); when null the
    /// value is read like a JSON timestamp (ISO-8601 or epoch). Default: null.
    /// </summary>
    public string? TimestampFormat { get; init; }

    /// <summary>The group holding the message, which becomes the body; when null the body is the line. Default: null.</summary>
    public string? MessageGroup { get; init; }
}
