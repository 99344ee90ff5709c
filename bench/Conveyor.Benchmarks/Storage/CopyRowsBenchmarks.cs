using System.Buffers;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using Conveyor.Benchmarks.Parsing;
using Conveyor.Logs.Enrichment;
using Conveyor.Logs.Model;
using Conveyor.Logs.Parsing;
using Conveyor.Logs.Sinks.Postgres;

namespace Conveyor.Benchmarks.Storage;

/// <summary>
/// The PostgreSQL sink's binary COPY rows (<see cref="CopyRows"/>) of corpus access-log events, parsed and enriched as
/// the service does, beside the same events written as the event JSON of <c>--to ndjson:</c> (a plain serialisation
/// of every field: the floor to compare against). One invocation writes <see cref="Lines"/> events; figures are per
/// event. <c>dotnet run -c Release --project bench/Conveyor.Benchmarks -- --filter '*CopyRows*'</c>
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class CopyRowsBenchmarks
{
    private const int Lines = 10_000;
    private readonly ArrayBufferWriter<byte> _buffer = new(1 << 20);
    private LogEvent[] _events = [];
    private Utf8JsonWriter _json = null!;

    [GlobalSetup]
    public void Setup()
    {
        var parser = LogParsers.Create("combined");
        using var enrichers = EnricherChain.Create(new EnricherOptions());
        var received = DateTimeOffset.UnixEpoch;
        _events = [.. CorpusLines.Load("apache-combined.log", Lines)
            .Select((line, i) => parser.Parse(line, new LineContext("bench", $"bench:{i}", received, line)).Event)
            .OfType<LogEvent>()];
        foreach (var e in _events)
        {
            enrichers.Apply(e);
        }

        _json = new Utf8JsonWriter(_buffer, LogEventJson.WriterOptions);
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Lines)]
    public int EventJson()
    {
        _buffer.ResetWrittenCount();
        foreach (var e in _events)
        {
            _json.Reset(_buffer);
            LogEventJson.Write(_json, e);
            _json.Flush();
        }

        return _buffer.WrittenCount;
    }

    [Benchmark(OperationsPerInvoke = Lines)]
    public int CopyRow()
    {
        _buffer.ResetWrittenCount();
        var coldKeys = new CopyRows.ColdKeys();
        foreach (var e in _events)
        {
            CopyRows.WriteRow(e, _buffer, _json, coldKeys);
        }

        return _buffer.WrittenCount;
    }
}
