namespace Conveyor.Logs.Configuration;

/// <summary>What every host conveyor builds (the service's, and each Kestrel source's own) starts from.</summary>
public static class HostArguments
{
    /// <summary>
    /// The host arguments. A host's defaults watch appsettings.json under the working directory for changes, and that
    /// watcher is recursive: with it, every write a sink makes to a file under the working directory (an NDJSON
    /// output, the store itself) wakes an inotify reader thread. Conveyor reads its own configuration once
    /// (--config), so nothing is watched.
    /// </summary>
    public static string[] Create() => ["--hostBuilder:reloadConfigOnChange=false"];
}
