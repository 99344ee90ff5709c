namespace Conveyor.Logs.Sinks.Otlp;

/// <summary>The settings of <c>--to otlp://H:P</c> (<see cref="OtlpSink"/>).</summary>
public sealed class OtlpSinkOptions
{
    /// <summary>The OTLP/HTTP logs endpoint, e.g. <c>http://127.0.0.1:4318/v1/logs</c>. Required.</summary>
    public Uri? Endpoint { get; set; }

    /// <summary>How long one export request may take before it counts as a transient failure. Default 10 s (the OTLP exporters' default).</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Compress request bodies with gzip. Default true.</summary>
    public bool Gzip { get; set; } = true;

    /// <summary>
    /// Reads <c>otlp://HOST:PORT[/PATH]</c> (plain HTTP; the path defaults to <c>/v1/logs</c>) or
    /// <c>otlp+https://HOST:PORT[/PATH]</c>.
    /// </summary>
    /// <exception cref="FormatException">Not such a URI; the message says what was expected.</exception>
    public static OtlpSinkOptions FromUri(string uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        var https = uri.StartsWith("otlp+https://", StringComparison.OrdinalIgnoreCase);
        var prefix = https ? "otlp+https://" : "otlp://";
        if (!uri.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)
            || !Uri.TryCreate((https ? "https://" : "http://") + uri[prefix.Length..], UriKind.Absolute, out var parsed)
            || parsed.IsDefaultPort && !uri[prefix.Length..].Split('/')[0].Contains(':', StringComparison.Ordinal))
        {
            throw new FormatException($"expected otlp://HOST:PORT[/PATH] or otlp+https://HOST:PORT[/PATH] (was '{uri}')");
        }

        var path = parsed.AbsolutePath is "" or "/" ? "/v1/logs" : parsed.AbsolutePath;
        return new OtlpSinkOptions
        {
            Endpoint = new UriBuilder(parsed.Scheme, parsed.Host, parsed.Port, path).Uri,
        };
    }

    /// <summary>The endpoint as text, for messages.</summary>
    public override string ToString() => Endpoint?.ToString() ?? "(no endpoint)";
}
