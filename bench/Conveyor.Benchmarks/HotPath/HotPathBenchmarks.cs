using BenchmarkDotNet.Attributes;
using Conveyor.Benchmarks.Parsing;
using Conveyor.Logs.Configuration;
using Conveyor.Logs.Model;
using Conveyor.Logs.Parsing;
using Conveyor.Logs.Pipeline;
using Conveyor.Logs.Sinks.Ndjson;
using Microsoft.Extensions.Logging.Abstractions;

namespace Conveyor.Benchmarks.HotPath;

/// <summary>
/// Allocated bytes (and time) per line on the service's hot path: a line admitted to the main buffer with its
/// acknowledgement, parsed and enriched by a parse worker, handed as a batch to the sink queue and written by the
/// NDJSON sink (to <see cref="Stream.Null"/>), until its acknowledgement fired. One invocation pushes
/// <see cref="Lines"/> corpus lines through a running topology; OperationsPerInvoke makes every figure per line.
/// </summary>
/// <remarks>
/// The line bytes are built once (a source copies them out of its receive buffer: that copy is not counted here).
/// Run on a quiet machine:
/// <c>dotnet run -c Release --project bench/Conveyor.Benchmarks -- --filter '*HotPath*'</c>
/// </remarks>
[MemoryDiagnoser]
[MinColumn]
[MedianColumn]
public class HotPathBenchmarks
{
    private const int Lines = 10_000;
    private const int Unit = 100;
    private static readonly SourceInfo Source = new("bench", "tcp", LogParsers.Create("combined"));
    private byte[][] _lines = [];
    private LogTopology? _topology;

    /// <summary>Parse workers (the service default is min(cores, 4)).</summary>
    [Params(1, 2)]
    public int Workers { get; set; }

    /// <summary>parse:ordered, the hand-off in take order (the service default is on); no effect with one worker.</summary>
    [Params(true, false)]
    public bool Ordered { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _lines = CorpusLines.Load("apache-combined.log", Lines);
        var sinkOptions = new SinkOptions { Uri = "ndjson:-" };
        var options = new PipelineOptions
        {
            Sources = [new SourceOptions { Type = SourceType.Tcp, Port = 1 }],
            Sinks = [sinkOptions],
            Parse = new ParseSettings { Workers = Workers, Ordered = Ordered },
        };
        var sink = new TopologySink("ndjson", sinkOptions, NdjsonSink.ForStream(Stream.Null));
        _topology = new LogTopology(options, [sink], NullLogger.Instance);
        _topology.AddSource(Source);
        _topology.Start();
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        if (_topology is not null)
        {
            await _topology.DrainAsync(TimeSpan.FromSeconds(30));
            await _topology.DisposeAsync();
        }
    }

    [Benchmark(OperationsPerInvoke = Lines)]
    public async Task MainToNdjson()
    {
        var writer = _topology!.Main.Writer;
        var acks = new Task<DeliveryOutcome>[Lines / Unit];
        var batch = new List<RawLine>(Unit);
        var now = _topology.Time.GetUtcNow();
        for (var u = 0; u < acks.Length; u++)
        {
            batch.Clear();
            for (var i = 0; i < Unit; i++)
            {
                var n = (u * Unit) + i;
                batch.Add(new RawLine(_lines[n % _lines.Length], Source, "bench:" + n, now));
            }

            acks[u] = RawLine.Acknowledge(batch)!.Completion;
            await writer.WriteAllAsync(batch);
        }

        await Task.WhenAll(acks);
    }
}
