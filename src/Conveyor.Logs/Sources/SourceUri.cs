using System.Globalization;

namespace Conveyor.Logs.Sources;

/// <summary>The source URIs of <c>conveyor run --from</c> (SPEC §3).</summary>
public static class SourceUri
{
    /// <summary>
    /// Reads <c>tcp://H:P</c>, <c>udp://H:P</c>, <c>syslog+tcp://H:P</c>, <c>syslog+udp://H:P</c>, <c>http://H:P</c>,
    /// <c>file:///path/glob*.log[?checkpoint=ignore]</c> or <c>stdin:</c> into source options with the defaults otherwise.
    /// </summary>
    /// <exception cref="FormatException">The URI is none of those; the message says what was expected.</exception>
    public static SourceOptions Parse(string uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        if (uri is "stdin:" or "stdin" or "-")
        {
            return new SourceOptions { Type = SourceType.Stdin };
        }

        if (uri.StartsWith("file://", StringComparison.OrdinalIgnoreCase))
        {
            var path = uri["file://".Length..];
            var checkpoint = FileCheckpoint.Resume;
            var query = path.IndexOf('?', StringComparison.Ordinal);
            if (query >= 0)
            {
                foreach (var pair in path[(query + 1)..].Split('&', StringSplitOptions.RemoveEmptyEntries))
                {
                    checkpoint = pair.ToLowerInvariant() switch
                    {
                        "checkpoint=ignore" => FileCheckpoint.Ignore,
                        "checkpoint=resume" => FileCheckpoint.Resume,
                        _ => throw new FormatException($"'{uri}': unknown parameter '{pair}' (expected checkpoint=ignore or checkpoint=resume)"),
                    };
                }

                path = path[..query];
            }

            if (path.Length == 0)
            {
                throw new FormatException($"'{uri}': expected file:///path/glob*.log");
            }

            return new SourceOptions { Type = SourceType.File, Path = path, Checkpoint = checkpoint };
        }

        var sep = uri.IndexOf("://", StringComparison.Ordinal);
        if (sep < 0)
        {
            throw new FormatException($"'{uri}': expected tcp://H:P, udp://H:P, syslog+tcp://H:P, syslog+udp://H:P, http://H:P, file:///path/glob*.log or stdin:");
        }

        var type = uri[..sep].ToLowerInvariant() switch
        {
            "tcp" => SourceType.Tcp,
            "udp" => SourceType.Udp,
            "syslog+tcp" or "syslog" => SourceType.SyslogTcp,
            "syslog+udp" => SourceType.SyslogUdp,
            "http" => SourceType.Http,
            var other => throw new FormatException($"'{uri}': unknown scheme '{other}' (expected tcp, udp, syslog+tcp, syslog+udp, http, file or stdin)"),
        };
        var authority = uri[(sep + 3)..].TrimEnd('/');
        var slash = authority.IndexOf('/', StringComparison.Ordinal);
        if (slash >= 0)
        {
            authority = authority[..slash];
        }

        var colon = authority.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(authority[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port))
        {
            throw new FormatException($"'{uri}': expected HOST:PORT after '://'");
        }

        var host = authority[..colon].Trim('[', ']');
        return new SourceOptions { Type = type, Host = host, Port = port };
    }
}
