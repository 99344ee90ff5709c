using Conveyor.Logs.Sinks.Amqp;
using Conveyor.Logs.Sinks.DuckDb;
using Conveyor.Logs.Sinks.Flaky;
using Microsoft.Extensions.Logging;
using Conveyor.Logs.Sinks.Ndjson;
using Conveyor.Logs.Sinks.Null;
using Conveyor.Logs.Sinks.Otlp;
using Conveyor.Logs.Sinks.Postgres;
using Conveyor.Logs.Sinks.Slow;
using Conveyor.Logs.Sinks.Sqlite;

namespace Conveyor.Logs.Sinks;

/// <summary>What a sink factory is given besides its URI.</summary>
/// <param name="TimeProvider">The clock; the system clock when null.</param>
public sealed record SinkContext(TimeProvider? TimeProvider = null)
{
    /// <summary>A <c>duckdb:</c> store's engine settings (<c>sinks:N:duckdb</c>); its defaults when null.</summary>
    public DuckDbSettings? DuckDb { get; init; }

    /// <summary>Where a store sink reports failing and recovered writes (<see cref="ResilientSink"/>); nowhere when null.</summary>
    public ILoggerFactory? LoggerFactory { get; init; }

    /// <summary>The retention limits a store enforces when its maintenance runs (<see cref="ILogRetention"/>); none when null.</summary>
    public RetentionSettings? Retention { get; init; }

    /// <summary>The store's full-text index by name (<c>sinks:N:fullText</c>); null: the store's default.</summary>
    public string? FullText { get; init; }

    /// <summary>Wraps a store sink in a <see cref="ResilientSink"/> (error classification, metrics, failure reports); the sink lane retries.</summary>
    public ILogSink Resilient(ILogSink inner) =>
        new ResilientSink(inner, TimeProvider, LoggerFactory?.CreateLogger("Conveyor.Sinks." + inner.Name));

    /// <summary><see cref="FullText"/> as one of <typeparamref name="T"/>'s names (case-insensitive), or null when not set.</summary>
    /// <exception cref="ArgumentException">Not one of them (the message lists them).</exception>
    public T? FullTextAs<T>()
        where T : struct, Enum
    {
        if (FullText is not { } name)
        {
            return null;
        }

        return Enum.TryParse<T>(name, ignoreCase: true, out var value) && Enum.IsDefined(value) && !int.TryParse(name, out _)
            ? value
            : throw new ArgumentException($"fullText must be one of {string.Join(", ", Enum.GetNames<T>().Select(static n => n.ToLowerInvariant()))} (was '{name}')", nameof(FullText));
    }

    /// <summary>Throws when a full-text index or retention limits are asked of a sink that has neither.</summary>
    /// <exception cref="ArgumentException">One of them is set.</exception>
    public void RefuseStoreSettings(string scheme)
    {
        if (FullText is not null || Retention is { HasLimit: true })
        {
            throw new ArgumentException($"a {scheme}: sink has no full-text index and cannot apply retention (fullText, retention)", nameof(scheme));
        }
    }
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

    /// <summary>Most events per write when <c>sinks:N:batchMaxItems</c> is not set. Default 1,000.</summary>
    public int DefaultBatchMaxItems { get; init; } = 1_000;

    /// <summary>The sink queue's byte bound when <c>sinks:N:queue:maxBytes</c> is not set. Default 32 MiB.</summary>
    public long DefaultQueueMaxBytes { get; init; } = 32L << 20;

    /// <summary>How long a partial batch waits when <c>sinks:N:batchLinger</c> is not set. Default 100 ms.</summary>
    public TimeSpan DefaultBatchLinger { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// True for a sink in front of another (<c>slow:DURATION+URI</c>, <c>flaky:UP/DOWN+URI</c>): the part of its URI after
    /// the first <c>+</c> names the wrapped sink, whose batch and queue defaults it takes, since it passes its writes through.
    /// </summary>
    public bool Wraps { get; init; }

    /// <summary>The defaults of a scheme no registration has.</summary>
    internal static SinkRegistration Unregistered { get; } = new(string.Empty, [], static (_, _) => null, static (_, _, _, _) => throw new ArgumentException("unregistered sink"));
}

/// <summary>
/// Every sink by URI scheme: the store's <c>duckdb:</c> (the default), <c>sqlite:</c>, <c>postgres:</c> and <c>ndjson:</c>, <c>otlp://</c> to forward to an
/// OpenTelemetry receiver, plus two sinks kept for
/// tests and benchmarks: <c>null:</c> discards every batch, and <c>slow:DURATION+URI</c> waits DURATION (e.g.
/// <c>5ms</c>) before each batch it passes to URI, like a struggling database, and <c>flaky:UP/DOWN+URI</c> writes to URI
/// for UP and fails every write for DOWN, over and over, like a store that goes away and comes back. A new sink is a folder under
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
        FlakySinkFactory.Registration,
        AmqpSinkFactory.Registration,
        OtlpSinkFactory.Registration,
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
    /// The registration whose batch and queue defaults <paramref name="uri"/>'s sink gets: a wrapper's
    /// (<see cref="SinkRegistration.Wraps"/>) are the wrapped sink's; a scheme not registered gets the general defaults.
    /// </summary>
    public static SinkRegistration Defaults(string uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        var (scheme, rest) = Split(uri);
        var registration = All.FirstOrDefault(r => r.Scheme == scheme || r.Aliases.Contains(scheme)) ?? SinkRegistration.Unregistered;
        return registration.Wraps && rest.IndexOf('+', StringComparison.Ordinal) is >= 0 and var plus ? Defaults(rest[(plus + 1)..]) : registration;
    }

    /// <summary>
    /// Opens the sink for <paramref name="uri"/>. Store sinks come wrapped in a <see cref="ResilientSink"/> (error
    /// classification, metrics, failure reports; retries and poison isolation are the sink lane's) built from <paramref name="context"/>, which also carries the store settings
    /// (full-text index, retention); other per-sink settings come from the options classes (use the sinks' own
    /// <c>OpenAsync</c> for those). A store that can check itself (<see cref="IStoreIntegrityCheck"/>) is checked here,
    /// and refused if it fails, before anyone writes to it.
    /// </summary>
    /// <exception cref="ArgumentException">An unknown scheme, a malformed URI, or a store setting the sink does not have.</exception>
    /// <exception cref="SinkException">The store cannot be opened, or is damaged (not transient; the message names it).</exception>
    public static async ValueTask<ILogSink> OpenAsync(string uri, SinkContext? context = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(uri);
        var (scheme, rest) = Split(uri);
        var registration = All.FirstOrDefault(r => r.Scheme == scheme || r.Aliases.Contains(scheme))
            ?? throw new ArgumentException($"Unknown sink '{uri}'; expected {Expected(All.Where(static r => r.IsStore))}.", nameof(uri));
        var sink = await registration.Open(rest, uri, context ?? new SinkContext(), cancellationToken).ConfigureAwait(false);
        try
        {
            if (SinkChain.Find<IStoreIntegrityCheck>(sink) is { } check && await check.CheckIntegrityAsync(cancellationToken).ConfigureAwait(false) is { } problem)
            {
                throw new SinkException(problem, isTransient: false);
            }
        }
        catch
        {
            await sink.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return sink;
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
