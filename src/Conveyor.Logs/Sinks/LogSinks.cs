using System.Diagnostics.Metrics;
using Conveyor.Logs.Sinks.Ndjson;
using Conveyor.Logs.Sinks.Postgres;
using Conveyor.Logs.Sinks.Sqlite;

namespace Conveyor.Logs.Sinks;

/// <summary>Opens sinks by URI (SPEC §3 <c>--to</c>).</summary>
public static class LogSinks
{
    /// <summary>
    /// Opens the sink for <paramref name="uri"/>, wrapped in a <see cref="ResilientSink"/> (retry, poison isolation,
    /// metrics): <c>sqlite:PATH</c>, <c>postgres:CONNSTR</c>, <c>ndjson:PATH</c>, or <c>ndjson:-</c> (standard output).
    /// Per-sink settings beyond the URI come from the options classes; use the sinks' own <c>OpenAsync</c> for those.
    /// </summary>
    /// <exception cref="ArgumentException">An unknown scheme.</exception>
    /// <exception cref="SinkException">The store cannot be opened.</exception>
    public static Task<ResilientSink> OpenAsync(
        string uri, ResilientSinkOptions? retry = null, TimeProvider? timeProvider = null, IMeterFactory? meterFactory = null, CancellationToken cancellationToken = default) =>
        OpenAsync(uri, new SinkOpenOptions { Retry = retry, TimeProvider = timeProvider, MeterFactory = meterFactory }, cancellationToken);

    /// <summary>
    /// Opens the sink for <paramref name="uri"/> with the store settings of <paramref name="options"/>, checks a store
    /// that can check itself (<see cref="IStoreIntegrityCheck"/>), and wraps it in a <see cref="ResilientSink"/>.
    /// </summary>
    /// <exception cref="ArgumentException">An unknown scheme, or a setting the store does not have (the message names it).</exception>
    /// <exception cref="SinkException">The store cannot be opened, or fails its integrity check (not transient; the message names the store).</exception>
    public static async Task<ResilientSink> OpenAsync(string uri, SinkOpenOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(uri);
        ArgumentNullException.ThrowIfNull(options);
        var colon = uri.IndexOf(':', StringComparison.Ordinal);
        var scheme = colon < 0 ? uri : uri[..colon].ToLowerInvariant();
        var rest = colon < 0 ? string.Empty : uri[(colon + 1)..];
        var time = options.TimeProvider;
        var retention = options.Retention;
        ILogSink inner = scheme switch
        {
            "sqlite" => await SqliteSink.OpenAsync(
                new SqliteSinkOptions
                {
                    Path = rest,
                    FullText = options.FullText is null ? null : ParseFullText(options.FullText, SqliteFullText.Words),
                    RetentionMaxAge = retention?.MaxAge,
                    RetentionMaxBytes = retention?.MaxBytes,
                },
                time,
                cancellationToken).ConfigureAwait(false),
            "postgres" or "postgresql" => await PostgresSink.OpenAsync(
                new PostgresSinkOptions
                {
                    ConnectionString = rest,
                    FullText = ParseFullText(options.FullText, PostgresFullText.Trigram),
                    RetentionMaxAge = retention?.MaxAge,
                    RetentionMaxBytes = retention?.MaxBytes,
                },
                time,
                cancellationToken).ConfigureAwait(false),
            "ndjson" when options.FullText is not null || retention is { HasLimit: true } =>
                throw new ArgumentException("an ndjson: sink has no full-text index and cannot apply retention (fullText, retention)", nameof(options)),
            "ndjson" when rest == "-" => NdjsonSink.ForStream(Console.OpenStandardOutput(), leaveOpen: false, time),
            "ndjson" => NdjsonSink.Open(new NdjsonSinkOptions { Path = rest }, time),
            _ => throw new ArgumentException($"Unknown sink '{uri}'; expected sqlite:PATH, postgres:CONNSTR, ndjson:PATH or ndjson:-.", nameof(uri)),
        };
        try
        {
            if (inner is IStoreIntegrityCheck check && await check.CheckIntegrityAsync(cancellationToken).ConfigureAwait(false) is { } problem)
            {
                throw new SinkException(problem, isTransient: false);
            }
        }
        catch
        {
            await inner.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return new ResilientSink(inner, options.Retry, time, options.MeterFactory, options.LoggerFactory?.CreateLogger("Conveyor.Sinks." + inner.Name));
    }

    /// <summary>Reads a full-text choice by name (case-insensitive); null gives <paramref name="fallback"/>.</summary>
    /// <exception cref="ArgumentException">Not one of <typeparamref name="T"/>'s names.</exception>
    public static T ParseFullText<T>(string? name, T fallback)
        where T : struct, Enum
    {
        if (name is null)
        {
            return fallback;
        }

        return Enum.TryParse<T>(name, ignoreCase: true, out var value) && Enum.IsDefined(value) && !int.TryParse(name, out _)
            ? value
            : throw new ArgumentException($"fullText must be one of {string.Join(", ", Enum.GetNames<T>().Select(static n => n.ToLowerInvariant()))} (was '{name}')", nameof(name));
    }
}
