using Conveyor.Logs.Model;

namespace Conveyor.Logs.Enrichment;

/// <summary>
/// Adds <c>user_agent.name</c>, <c>user_agent.version</c> (when known), <c>user_agent.os.name</c> (when known),
/// <c>user_agent.device.type</c> and <c>user_agent.is_bot</c> from <c>user_agent.original</c>.
/// </summary>
public sealed class UserAgentEnricher(int cacheSize = 10_000) : ILogEnricher
{
    private readonly UserAgentClassifier _classifier = new(cacheSize > 0 ? cacheSize : throw new ArgumentException("userAgentCacheSize must be positive", nameof(cacheSize)));

    /// <inheritdoc />
    public void Enrich(LogEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        if (!e.Attributes.TryGetString(SemanticNames.UserAgentOriginal, out var ua))
        {
            return;
        }

        var info = _classifier.Classify(ua);
        var a = e.Attributes;
        a.Set(SemanticNames.UserAgentName, info.Name);
        if (info.Version is not null)
        {
            a.Set(SemanticNames.UserAgentVersion, info.Version);
        }

        if (info.OsName is not null)
        {
            a.Set(SemanticNames.UserAgentOsName, info.OsName);
        }

        a.Set(SemanticNames.UserAgentDeviceType, info.DeviceType);
        a.Set(SemanticNames.UserAgentIsBot, info.IsBot);
    }
}
