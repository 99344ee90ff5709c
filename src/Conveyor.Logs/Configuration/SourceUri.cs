using System.Globalization;
using Conveyor.Logs.Amqp;
using Conveyor.Logs.Sources;

namespace Conveyor.Logs.Configuration;

/// <summary>The source URIs of <c>conveyor run --from</c> (docs/REFERENCE.md, "conveyor run").</summary>
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

        if (AmqpSettings.IsAmqp(uri))
        {
            return AmqpSettings.Check(uri) is { } problem
                ? throw new FormatException(problem)
                : new SourceOptions { Type = SourceType.Amqp, Uri = uri };
        }

        var sep = uri.IndexOf("://", StringComparison.Ordinal);
        if (sep < 0)
        {
            throw new FormatException($"'{uri}': expected {Expected(SourceRegistry.All.Select(static r => r.Syntax))}");
        }

        var scheme = uri[..sep].ToLowerInvariant();
        var type = SourceRegistry.FindScheme(scheme) is { HostAndPort: true } registration
            ? registration.Type
            : throw new FormatException($"'{uri}': unknown scheme '{scheme}' (expected {Expected(SourceRegistry.All.Select(static r => r.Scheme))})");
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

    /// <summary>"a, b or c".</summary>
    private static string Expected(IEnumerable<string> forms)
    {
        var list = forms.ToList();
        return list.Count == 1 ? list[0] : string.Join(", ", list.Take(list.Count - 1)) + " or " + list[^1];
    }
}
