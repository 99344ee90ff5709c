using System.Net;
using System.Text.Json;
using Conveyor.Cli.Tests.Service;

namespace Conveyor.Cli.Tests.Faults;

/// <summary>
/// A real <c>conveyor run</c> for one fault test: a temp directory, a config with an HTTP source (for
/// <c>/api/pipeline</c>, <c>/metrics</c> and <c>/api/search</c>) plus the sources under test, and a client.
/// </summary>
internal sealed class FaultService : IAsyncDisposable
{
    public static readonly TimeSpan Startup = TimeSpan.FromSeconds(60);

    private FaultService(ConveyorProcess process, string directory, int http)
    {
        Process = process;
        Directory = directory;
        Http = http;
        Client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{http}"), Timeout = TimeSpan.FromSeconds(60) };
    }

    public ConveyorProcess Process { get; }

    public string Directory { get; }

    public int Http { get; }

    public HttpClient Client { get; }

    public string Db => Path.Combine(Directory, "x.db");

    /// <summary>
    /// Starts <c>conveyor run --config</c> with <paramref name="sources"/> (JSON objects, comma-separated) after the HTTP
    /// source, <paramref name="sink"/> (default the SQLite store <see cref="Db"/>) and <paramref name="extra"/> top-level keys.
    /// </summary>
    public static async Task<FaultService> StartAsync(string sources = "", string? sink = null, string extra = "", string? directory = null, string http = "")
    {
        var dir = directory ?? ConveyorProcess.TempDirectory();
        var port = ConveyorProcess.FreePort();
        var config = Path.Combine(dir, "conveyor.json");
        var sinkUri = JsonSerializer.Serialize(sink ?? "sqlite:" + Path.Combine(dir, "x.db"));
        await File.WriteAllTextAsync(config, $$"""
            {
              "sources": [ { "type": "http", "port": {{port}} {{http}} }{{(sources.Length > 0 ? ", " + sources : string.Empty)}} ],
              "sinks": [ { "uri": {{sinkUri}} } ] {{extra}}
            }
            """);
        var process = ConveyorProcess.Start(dir, ["run", "--config", config]);
        var service = new FaultService(process, dir, port);
        await process.WaitForLogAsync("Pipeline started", Startup);
        await TestWait.UntilAsync(async () => await RunEndToEndTests.TryGet(service.Client, "/health") == HttpStatusCode.OK, Startup, "/health");
        return service;
    }

    /// <summary>What a stage of <c>/api/pipeline</c> reports, e.g. <c>("source:tcp-5170", "received")</c>; -1 when absent.</summary>
    public Task<long> StageAsync(string stage, string field) => RunEndToEndTests.PipelineValue(Client, stage, field);

    /// <summary>The sum of a Prometheus counter's samples whose labels contain <paramref name="label"/>.</summary>
    public async Task<double> MetricAsync(string name, string label = "")
    {
        var text = await Client.GetStringAsync("/metrics");
        return text.Split('\n')
            .Where(l => l.StartsWith(name, StringComparison.Ordinal) && (l.Length > name.Length && l[name.Length] is '{' or ' ') && l.Contains(label, StringComparison.Ordinal))
            .Sum(static l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture));
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Process.DisposeAsync();
    }
}
