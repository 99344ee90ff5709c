using Conveyor.Logs.Model;

namespace Conveyor.Logs.Enrichment;

/// <summary>Adds <c>http.response.status_class</c>: <c>1xx</c> … <c>5xx</c> for statuses 100–599.</summary>
public sealed class StatusClassEnricher : ILogEnricher
{
    private static readonly string[] Classes = ["1xx", "2xx", "3xx", "4xx", "5xx"];

    /// <inheritdoc />
    public void Enrich(LogEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        if (e.Attributes.TryGetInt64(SemanticNames.HttpResponseStatusCode, out var status) && status is >= 100 and <= 599)
        {
            e.Attributes.Set(SemanticNames.HttpResponseStatusClass, Classes[(status / 100) - 1]);
        }
    }
}

/// <summary>Sets severity from the HTTP status when the event has none: 5xx ERROR, 4xx WARN, anything else INFO.</summary>
public sealed class SeverityFromStatusEnricher : ILogEnricher
{
    /// <inheritdoc />
    public void Enrich(LogEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        if (e.SeverityNumber != Severity.Unspecified || e.SeverityText is not null
            || !e.Attributes.TryGetInt64(SemanticNames.HttpResponseStatusCode, out var status))
        {
            return;
        }

        e.SeverityNumber = status switch
        {
            >= 500 and <= 599 => Severity.Error,
            >= 400 and <= 499 => Severity.Warn,
            _ => Severity.Info,
        };
        e.SeverityText = Severity.TextOf(e.SeverityNumber);
    }
}

/// <summary>Adds configured resource attributes: <c>service.name</c>, <c>deployment.environment</c>, <c>host.name</c>.</summary>
public sealed class StaticTagsEnricher(string? serviceName, string? deploymentEnvironment, string? hostName) : ILogEnricher
{
    /// <inheritdoc />
    public void Enrich(LogEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        if (serviceName is not null)
        {
            e.Resource.Set(SemanticNames.ServiceName, serviceName);
        }

        if (deploymentEnvironment is not null)
        {
            e.Resource.Set(SemanticNames.DeploymentEnvironment, deploymentEnvironment);
        }

        if (hostName is not null)
        {
            e.Resource.Set(SemanticNames.HostName, hostName);
        }
    }
}
