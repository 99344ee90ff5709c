namespace Conveyor.Logs.Enrichment;

/// <summary>Which enrichers run (docs/REFERENCE.md, "Configuration"). Defaults: status class, severity from status and user agent on; the rest off.</summary>
public sealed class EnricherOptions
{
    /// <summary>Adds <c>http.response.status_class</c> (<c>2xx</c>…). Default: true.</summary>
    public bool StatusClass { get; init; } = true;

    /// <summary>Sets severity from the status (5xx ERROR, 4xx WARN, else INFO) when the event has none. Default: true.</summary>
    public bool SeverityFromStatus { get; init; } = true;

    /// <summary>Classifies <c>user_agent.original</c> into name, version, OS, device type and bot flag. Default: true.</summary>
    public bool UserAgent { get; init; } = true;

    /// <summary>How many distinct user-agent strings the classifier remembers. Default: 10,000.</summary>
    public int UserAgentCacheSize { get; init; } = 10_000;

    /// <summary>A MaxMind <c>.mmdb</c> file for <c>client.geo.*</c>; GeoIP is off when null. Default: null.</summary>
    public string? GeoIpDatabase { get; init; }

    /// <summary>Truncates <c>client.address</c> to its IPv4 /24 or IPv6 /48 (after GeoIP has used it). Default: false.</summary>
    public bool AnonymizeClient { get; init; }

    /// <summary>Resource <c>service.name</c>; not set when null. Default: null.</summary>
    public string? ServiceName { get; init; }

    /// <summary>Resource <c>deployment.environment</c>; not set when null. Default: null.</summary>
    public string? DeploymentEnvironment { get; init; }

    /// <summary>Resource <c>host.name</c>; not set when null. Default: null.</summary>
    public string? HostName { get; init; }
}
