using Conveyor.Logs.Model;

namespace Conveyor.Logs.Enrichment;

/// <summary>
/// The enrichers <see cref="EnricherOptions"/> switches on, applied in a fixed order: status class, severity from
/// status, user agent, GeoIP, client anonymisation (after GeoIP, which needs the full address), static tags.
/// </summary>
/// <remarks>Thread-safe: one chain serves every worker. Dispose it to close the GeoIP database.</remarks>
public sealed class EnricherChain : IDisposable
{
    private readonly ILogEnricher[] _enrichers;

    private EnricherChain(ILogEnricher[] enrichers) => _enrichers = enrichers;

    /// <summary>The enrichers in the order they run.</summary>
    public IReadOnlyList<ILogEnricher> Enrichers => _enrichers;

    /// <summary>Builds the chain.</summary>
    /// <exception cref="ArgumentException">The GeoIP database cannot be opened, or the cache size is not positive.</exception>
    public static EnricherChain Create(EnricherOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var list = new List<ILogEnricher>();
        if (options.StatusClass)
        {
            list.Add(new StatusClassEnricher());
        }

        if (options.SeverityFromStatus)
        {
            list.Add(new SeverityFromStatusEnricher());
        }

        if (options.UserAgent)
        {
            list.Add(new UserAgentEnricher(options.UserAgentCacheSize));
        }

        if (options.GeoIpDatabase is { } path)
        {
            list.Add(new GeoIpEnricher(path));
        }

        if (options.AnonymizeClient)
        {
            list.Add(new AnonymizeClientEnricher());
        }

        if (options.ServiceName is not null || options.DeploymentEnvironment is not null || options.HostName is not null)
        {
            list.Add(new StaticTagsEnricher(options.ServiceName, options.DeploymentEnvironment, options.HostName));
        }

        return new EnricherChain([.. list]);
    }

    /// <summary>Runs every enricher on <paramref name="e"/>.</summary>
    public void Apply(LogEvent e)
    {
        foreach (var enricher in _enrichers)
        {
            enricher.Enrich(e);
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var enricher in _enrichers)
        {
            (enricher as IDisposable)?.Dispose();
        }
    }
}
