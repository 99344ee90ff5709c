using System.Diagnostics.Metrics;
using Conveyor.Logs.Sinks.DuckDb;
using Conveyor.Logs.Sinks.Ndjson;
using Conveyor.Logs.Sinks.Null;
using Conveyor.Logs.Sinks.Postgres;
using Conveyor.Logs.Sinks.Slow;
using Conveyor.Logs.Sinks.Sqlite;

namespace Conveyor.Logs.Sinks;

/// <summary>What a sink factory is given besides its URI.</summary>
/// <param name="TimeProvider">The clock; the system clock when null.</param>
/// <param name="Retry">The retry settings of the <see cref="ResilientSink"/> around a store sink; its defaults when null.</param>
/// <param name="MeterFactory">Where a store sink's metrics go; the shared meter when null.</param>
public sealed record SinkContext(TimeProvider? TimeProvider = null, ResilientSinkOptions? Retry = null, IMeterFactory? MeterFactory = null)
{
    /// <summary>A <c>duckdb:</c> store's engine settings (<c>sinks:N:duckdb</c>); its defaults when null.</summary>
    public DuckDbSettings? DuckDb { get; init; }

    /// <summary>Wraps a store sink in a <see cref="ResilientSink"/> (retry, poison isolation, metrics) with these settings.</summary>
    public ILogSink Resilient(ILogSink inner) => new ResilientSink(inner, Retry, TimeProvider, MeterFactory);
}

/// <summary>Opens a sink from the part of its URI after <c>scheme:</c>.</summary>
/// <param name="remainder">The URI after <c>scheme:</c>, already checked by the registration's <see cref="SinkRegistration.Check"/>.</param>
/// <param name="uri">The whole URI, for messages.</param>
public delegate ValueTask<ILogSink> SinkFactory(string remainder, string uri, SinkContext context, CancellationToken cancellationToken);

/// <summary>One kind of sink, registered by URI scheme in <see cref="SinkRegistry"/>.</summary>
/// <param name="Scheme">The lower-case scheme of <c>--to</c> and <c>sinks:N:uri</c>, e.g. <c>sqlite</c>.</param>
/// <param name="Syntax">The URI forms, as messages list them, e.g. <c>sqlite:PATH</c>.</param>
/// <param name="Check">What is wrong with (remainder, uri), or null when it is well formed.</param>
/// <param name="Open">Opens the sink.</param>
public sealed record SinkRegistration(string Scheme, IReadOnlyList<string> Syntax, Func<string, string, string?> Check, SinkFactory Open)
{
    /// <summary>True for the stores (<c>duckdb</c>, <c>sqlite</c>, <c>postgres</c>, <c>ndjson</c>): the sinks a URI is required to name.</summary>
    public bool IsStore { get; init; }

    /// <summary>Other schemes <see cref="SinkRegistry.OpenAsync"/> accepts for this sink (validation takes only <see cref="Scheme"/>).</summary>
    public IReadOnlyList<string> Aliases { get; init; } = [];
}

/// <summary>
/// Every sink by URI scheme: the store's <c>duckdb:</c> (the default), <c>sqlite:</c>, <c>postgres:</c> and <c>ndjson:</c>, plus two sinks kept for
/// tests and benchmarks: <c>null:</c> discards every batch, and <c>slow:DURATION+URI</c> waits DURATION (e.g.
/// <c>5ms</c>) before each batch it passes to URI, like a struggling database. A new sink is a folder under
/// <c>Sinks/</c> and one line in <see cref="All"/>.
/// </summary>
public static class SinkRegistry
{
    /// <summary>The registered sinks, in the order messages list them.</summary>
    public static IReadOnlyList<SinkRegistration> All { get; } =
    [
        DuckDbSinkFactory.Registration,
        SqliteSinkFactory.Registration,
        PostgresSinkFactory.Registration,
        NdjsonSinkFactory.Registration,
        NullSinkFactory.Registration,
        SlowSinkFactory.Registration,
    ];

    /// <summary>What is wrong with <paramref name="uri"/>, or null when it is well formed.</summary>
    public static string? Check(string? uri)
    {
        if (string.IsNullOrWhiteSpace(uri))
        {
            return $"required ({Expected(All.Where(static r => r.IsStore))})";
        }

        var (scheme, rest) = Split(uri);
        return All.FirstOrDefault(r => r.Scheme == scheme) is { } registration
            ? registration.Check(rest, uri)
            : $"unknown sink '{uri}' (expected {Expected(All)})";
    }

    /// <summary>
    /// Opens the sink for <paramref name="uri"/>. Store sinks come wrapped in a <see cref="ResilientSink"/> (retry,
    /// poison isolation, metrics) built from <paramref name="context"/>; per-sink settings beyond the URI come from the
    /// options classes (use the sinks' own <c>OpenAsync</c> for those).
    /// </summary>
    /// <exception cref="ArgumentException">An unknown scheme, or a malformed URI.</exception>
    /// <exception cref="SinkException">The store cannot be opened.</exception>
    public static ValueTask<ILogSink> OpenAsync(string uri, SinkContext? context = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(uri);
        var (scheme, rest) = Split(uri);
        var registration = All.FirstOrDefault(r => r.Scheme == scheme || r.Aliases.Contains(scheme))
            ?? throw new ArgumentException($"Unknown sink '{uri}'; expected {Expected(All.Where(static r => r.IsStore))}.", nameof(uri));
        return registration.Open(rest, uri, context ?? new SinkContext(), cancellationToken);
    }

    /// <summary>Splits <c>scheme:rest</c>; the scheme is lower-cased.</summary>
    public static (string Scheme, string Remainder) Split(string uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        var colon = uri.IndexOf(':', StringComparison.Ordinal);
        return colon < 0 ? (uri.ToLowerInvariant(), string.Empty) : (uri[..colon].ToLowerInvariant(), uri[(colon + 1)..]);
    }

    /// <summary>"a, b or c" of the URI forms of <paramref name="registrations"/>.</summary>
    private static string Expected(IEnumerable<SinkRegistration> registrations)
    {
        var forms = registrations.SelectMany(static r => r.Syntax).ToList();
        return forms.Count == 1 ? forms[0] : string.Join(", ", forms.Take(forms.Count - 1)) + " or " + forms[^1];
    }
}
