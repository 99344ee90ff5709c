using Conveyor.Logs.Configuration;

namespace Conveyor.Logs.Sources.FileTail;

/// <summary><c>file:///path/glob*.log</c>: a <see cref="FileTailSource"/>.</summary>
public static class FileTailSourceFactory
{
    /// <summary>Files matching a glob, tailed across rotation and truncation.</summary>
    public static SourceRegistration Registration { get; } = new(SourceType.File, "file", "file:///path/glob*.log", Create);

    private static FileTailSource Create(SourceContext c) => new FileTailSource(c.Options, c.Info, c.Output, c.Logger, c.Time);
}
