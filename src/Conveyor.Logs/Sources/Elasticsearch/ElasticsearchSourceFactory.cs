using Conveyor.Logs.Configuration;

namespace Conveyor.Logs.Sources.Elasticsearch;

/// <summary><c>elasticsearch://H:P</c>: an <see cref="ElasticsearchSource"/> (the bulk API; documents are JSON).</summary>
public static class ElasticsearchSourceFactory
{
    /// <summary>The Elasticsearch bulk API.</summary>
    public static SourceRegistration Registration { get; } = new(SourceType.Elasticsearch, "elasticsearch", "elasticsearch://H:P", Create)
    {
        HostAndPort = true,
        FixedFormat = "json",
    };

    private static ElasticsearchSource Create(SourceContext c) =>
        new(c.Options, c.Info, c.Output, c.Logger, c.Time, c.Main ?? MainBufferView.Unknown);
}
