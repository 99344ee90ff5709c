namespace Conveyor.Logs.Sinks.Ndjson;

/// <summary>Settings of a file <see cref="NdjsonSink"/> (config section <c>Sinks:Ndjson</c>). Call <see cref="Validate"/> after binding.</summary>
public sealed class NdjsonSinkOptions
{
    /// <summary>The file written to; required. Rotated files sit next to it as <c>NAME.yyyyMMddTHHmmssZ[-N].EXT</c>.</summary>
    public string Path { get; set; } = string.Empty;

    /// <summary>
    /// Rotate once the file reaches this size (<c>ndjson:PATH?rotate=100MiB</c>). Default null: one file, never rotated
    /// by size — like rsyslog's, Vector's and Fluent Bit's file outputs, every line goes into the file the user named.
    /// </summary>
    public long? MaxFileBytes { get; set; }

    /// <summary>Rotate once the file has been open this long. Default null: never by time.</summary>
    public TimeSpan? RotationInterval { get; set; }

    /// <summary>An event whose JSON line is longer than this (bytes) is refused and dead-lettered. Default 1 MiB.</summary>
    public int MaxEventBytes { get; set; } = 1 << 20;

    /// <summary>Where dead letters go. Default: <see cref="Path"/> with <c>.dead-letters</c> before its extension.</summary>
    public string? DeadLetterPath { get; set; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the key of the first invalid option.</summary>
    public NdjsonSinkOptions Validate()
    {
        if (string.IsNullOrWhiteSpace(Path))
        {
            throw new ArgumentException($"{nameof(Path)} must name a file.", nameof(Path));
        }

        if (MaxFileBytes is < 1024)
        {
            throw new ArgumentException($"{nameof(MaxFileBytes)} must be at least 1024 (was {MaxFileBytes}).", nameof(MaxFileBytes));
        }

        if (RotationInterval is { } r && r < TimeSpan.FromSeconds(1))
        {
            throw new ArgumentException($"{nameof(RotationInterval)} must be at least 1 s (was {r}).", nameof(RotationInterval));
        }

        if (MaxEventBytes < 256)
        {
            throw new ArgumentException($"{nameof(MaxEventBytes)} must be at least 256 (was {MaxEventBytes}).", nameof(MaxEventBytes));
        }

        return this;
    }

    internal string EffectiveDeadLetterPath => DeadLetterPath ?? System.IO.Path.Combine(
        System.IO.Path.GetDirectoryName(Path) ?? string.Empty,
        System.IO.Path.GetFileNameWithoutExtension(Path) + ".dead-letters" + System.IO.Path.GetExtension(Path));
}
