namespace Conveyor.Logs.Sources.Otlp;

/// <summary>
/// Where the parts of an OTLP log record that the event model has no field for are kept, so that an event received
/// over OTLP and sent on with <c>--to otlp://</c> carries the same record. The names follow the OpenTelemetry
/// convention for non-OTLP exporters (<c>otel.scope.name</c>, <c>otel.scope.version</c>); the sink reads them back
/// and does not send them as attributes.
/// </summary>
public static class OtlpAttributeNames
{
    /// <summary>The instrumentation scope's name (a string; absent when empty).</summary>
    public const string ScopeName = "otel.scope.name";

    /// <summary>The instrumentation scope's version (a string; absent when empty).</summary>
    public const string ScopeVersion = "otel.scope.version";

    /// <summary>The instrumentation scope's attributes (a map; absent when there are none).</summary>
    public const string ScopeAttributes = "otel.scope.attributes";

    /// <summary>The scope's schema URL (absent when empty).</summary>
    public const string ScopeSchemaUrl = "otel.scope.schema_url";

    /// <summary>The resource's schema URL (absent when empty).</summary>
    public const string ResourceSchemaUrl = "otel.resource.schema_url";

    /// <summary>The record's <c>dropped_attributes_count</c> (an integer; absent when 0).</summary>
    public const string DroppedAttributesCount = "otel.dropped_attributes_count";

    /// <summary>
    /// A body that is not a string, with its OTLP kind (integer, double, bool, bytes, array or map); the event's
    /// <c>Body</c> then holds its JSON text so search and the stores still see it. Absent for a string body.
    /// </summary>
    public const string Body = "otel.body";

    /// <summary>True for the names above: attributes that describe the OTLP envelope rather than the record.</summary>
    public static bool IsEnvelope(string key) => key is ScopeName or ScopeVersion or ScopeAttributes or ScopeSchemaUrl
        or ResourceSchemaUrl or DroppedAttributesCount or Body;
}
