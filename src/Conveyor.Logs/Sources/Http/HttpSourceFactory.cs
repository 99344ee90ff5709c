using Conveyor.Logs.Configuration;

namespace Conveyor.Logs.Sources.Http;

/// <summary>
/// <c>http://H:P</c>: <c>POST /ingest</c>, handled by <see cref="IngestEndpoint"/> on the host's HTTP listener (which
/// also serves the dashboard, metrics and APIs), so there is no <see cref="LogSource"/> to create.
/// </summary>
public static class HttpSourceFactory
{
    /// <summary><c>POST /ingest</c> over HTTP.</summary>
    public static SourceRegistration Registration { get; } = new(SourceType.Http, "http", "http://H:P", Create: null) { HostAndPort = true };
}
