using System.Globalization;

namespace Conveyor.Logs.Topology;

/// <summary>
/// The sink URIs of <c>--to</c> and <c>sinks:N:uri</c>: the store's <c>sqlite:</c>, <c>postgres:</c> and
/// <c>ndjson:</c>, plus two sinks kept for tests and benchmarks: <c>null:</c> discards every batch, and
/// <c>slow:DURATION+URI</c> waits DURATION (e.g. <c>5ms</c>) before each batch it passes to URI, like a
/// struggling database.
/// </summary>
public static class SinkUri
{
    /// <summary>What is wrong with <paramref name="uri"/>, or null when it is well formed.</summary>
    public static string? Check(string? uri)
    {
        if (string.IsNullOrWhiteSpace(uri))
        {
            return "required (sqlite:PATH, postgres:CONNSTR, ndjson:PATH or ndjson:-)";
        }

        var (scheme, rest) = Split(uri);
        switch (scheme)
        {
            case "sqlite" or "ndjson" or "postgres":
                return rest.Length == 0 ? $"'{scheme}:' needs a {(scheme == "postgres" ? "connection string" : "path")}" : null;
            case "null":
                return null;
            case "otlp" or "otlp+https":
                try
                {
                    Sinks.Otlp.OtlpSinkOptions.FromUri(uri);
                    return null;
                }
                catch (FormatException ex)
                {
                    return ex.Message;
                }

            case "slow":
                var plus = rest.IndexOf('+', StringComparison.Ordinal);
                if (plus < 0 || !TryParseDuration(rest[..plus], out _))
                {
                    return $"expected slow:DURATION+URI, e.g. slow:5ms+sqlite:x.db (was '{uri}')";
                }

                return Check(rest[(plus + 1)..]);
            default:
                return $"unknown sink '{uri}' (expected sqlite:PATH, postgres:CONNSTR, ndjson:PATH, ndjson:-, otlp://HOST:PORT, null: or slow:DURATION+URI)";
        }
    }

    /// <summary>Splits <c>scheme:rest</c>; the scheme is lower-cased.</summary>
    public static (string Scheme, string Remainder) Split(string uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        var colon = uri.IndexOf(':', StringComparison.Ordinal);
        return colon < 0 ? (uri.ToLowerInvariant(), string.Empty) : (uri[..colon].ToLowerInvariant(), uri[(colon + 1)..]);
    }

    /// <summary>Reads <c>250ms</c>, <c>5s</c>, <c>2m</c>, <c>1h</c> or a TimeSpan (<c>00:00:05</c>).</summary>
    public static bool TryParseDuration(string text, out TimeSpan value)
    {
        ArgumentNullException.ThrowIfNull(text);
        text = text.Trim();
        (string Suffix, double Ms)[] units = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)];
        foreach (var (suffix, ms) in units)
        {
            if (text.EndsWith(suffix, StringComparison.OrdinalIgnoreCase)
                && double.TryParse(text[..^suffix.Length], NumberStyles.Float, CultureInfo.InvariantCulture, out var n) && n >= 0)
            {
                value = TimeSpan.FromMilliseconds(n * ms);
                return true;
            }
        }

        return TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out value) && value >= TimeSpan.Zero;
    }
}
