using System.Text.Json;
using System.Text.Json.Nodes;
using Conveyor.Logs.Model;

namespace Conveyor.Logs.Tests.Support;

/// <summary>An event's JSON for comparing a stored event with the one written: attributes and resource as sets, since a store returns its typed columns' attributes first (and jsonb keeps its own key order).</summary>
internal static class EventJson
{
    public static string WithAttributeSets(LogEvent e)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, LogEventJson.WriterOptions))
        {
            LogEventJson.Write(writer, e);
        }

        var node = JsonNode.Parse(stream.ToArray())!.AsObject();
        foreach (var key in new[] { "attributes", "resource" })
        {
            if (node[key] is JsonObject o)
            {
                var sorted = new JsonObject();
                foreach (var (k, v) in o.OrderBy(p => p.Key, StringComparer.Ordinal).ToList())
                {
                    sorted[k] = v?.DeepClone();
                }

                node[key] = sorted;
            }
        }

        return node.ToJsonString();
    }
}
