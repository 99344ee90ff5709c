namespace Conveyor.Logs.Model;

/// <summary>
/// Attribute names, exactly as docs/REFERENCE.md ("Formats") gives them (OpenTelemetry semantic conventions where one exists).
/// Parsers, enrichers, sinks and the query language all use these constants, never string literals.
/// </summary>
public static class SemanticNames
{
    public const string ClientAddress = "client.address";
    public const string UserName = "user.name";
    public const string HttpRequestMethod = "http.request.method";
    public const string UrlOriginal = "url.original";
    public const string NetworkProtocolName = "network.protocol.name";
    public const string NetworkProtocolVersion = "network.protocol.version";
    public const string HttpResponseStatusCode = "http.response.status_code";
    public const string HttpResponseBodySize = "http.response.body.size";
    public const string HttpRequestHeaderReferer = "http.request.header.referer";
    public const string UserAgentOriginal = "user_agent.original";

    /// <summary>The RFC 1413 ident field of an access log, when it is not <c>-</c>.</summary>
    public const string UserIdent = "user.ident";

    /// <summary>The virtual host an access log wrote before the client (<c>%v</c>), without its port.</summary>
    public const string ServerAddress = "server.address";
    public const string ServerPort = "server.port";

    /// <summary>A forwarded-for chain an access log wrote before the client, verbatim.</summary>
    public const string HttpRequestHeaderXForwardedFor = "http.request.header.x-forwarded-for";

    /// <summary>Fields an access log wrote after the user agent, kept verbatim.</summary>
    public const string LogRecordTrailing = "log.record.trailing";

    public const string SyslogFacility = "syslog.facility";
    public const string SyslogSeverity = "syslog.severity";
    public const string SyslogAppName = "syslog.app_name";
    public const string SyslogProcId = "syslog.procid";
    public const string SyslogMsgId = "syslog.msgid";
    public const string SyslogStructuredData = "syslog.structured_data";
    public const string SyslogTimestampRaw = "syslog.timestamp_raw";
    public const string HostName = "host.name";

    public const string HttpResponseStatusClass = "http.response.status_class";
    public const string UserAgentName = "user_agent.name";
    public const string UserAgentVersion = "user_agent.version";
    public const string UserAgentOsName = "user_agent.os.name";
    public const string UserAgentDeviceType = "user_agent.device.type";
    public const string UserAgentIsBot = "user_agent.is_bot";
    public const string ClientGeoCountryIsoCode = "client.geo.country_iso_code";
    public const string ClientGeoCityName = "client.geo.city_name";

    public const string ServiceName = "service.name";
    public const string DeploymentEnvironment = "deployment.environment";
}
