using System.Diagnostics.Metrics;
using Conveyor.Logs.Sinks.Ndjson;
using Conveyor.Logs.Sinks.Otlp;
using Conveyor.Logs.Sinks.Postgres;
using Conveyor.Logs.Sinks.Sqlite;

namespace Conveyor.Logs.Sinks;

/// <summary>Opens sinks by URI (SPEC §3 <c>--to</c>).</summary>
public static class LogSinks
{
    /// <summary>
    /// Opens the sink for <paramref name="uri"/>, wrapped in a <see cref="ResilientSink"/> (retry, poison isolation,
    /// metrics): <c>sqlite:PATH</c>, <c>postgres:CONNSTR</c>, <c>ndjson:PATH</c>, <c>ndjson:-</c> (standard output), or <c>otlp://HOST:PORT[/PATH]</c> (OTLP/HTTP).
    /// Per-sink settings beyond the URI come from the options classes; use the sinks' own <c>OpenAsync</c> for those.
    /// </summary>
    /// <exception cref="ArgumentException">An unknown scheme.</exception>
    /// <exception cref="SinkException">The store cannot be opened.</exception>
    public static async Task<ResilientSink> OpenAsync(
        string uri, ResilientSinkOptions? retry = null, TimeProvider? timeProvider = null, IMeterFactory? meterFactory = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(uri);
        var colon = uri.IndexOf(':', StringComparison.Ordinal);
        var scheme = colon < 0 ? uri : uri[..colon].ToLowerInvariant();
        var rest = colon < 0 ? string.Empty : uri[(colon + 1)..];
        ILogSink inner = scheme switch
        {
            "sqlite" => await SqliteSink.OpenAsync(new SqliteSinkOptions { Path = rest }, timeProvider, cancellationToken).ConfigureAwait(false),
            "postgres" or "postgresql" => await PostgresSink.OpenAsync(new PostgresSinkOptions { ConnectionString = rest }, timeProvider, cancellationToken).ConfigureAwait(false),
            "ndjson" when rest == "-" => NdjsonSink.ForStream(Console.OpenStandardOutput(), leaveOpen: false, timeProvider),
            "ndjson" => NdjsonSink.Open(new NdjsonSinkOptions { Path = rest }, timeProvider),
            "otlp" or "otlp+https" => OtlpSink.Open(OtlpSinkOptions.FromUri(uri)),
            _ => throw new ArgumentException($"Unknown sink '{uri}'; expected sqlite:PATH, postgres:CONNSTR, ndjson:PATH, ndjson:- or otlp://HOST:PORT.", nameof(uri)),
        };
        return new ResilientSink(inner, retry, timeProvider, meterFactory);
    }
}
