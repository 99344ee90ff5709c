using BenchmarkDotNet.Attributes;
using Conveyor.Benchmarks.Parsing;
using Conveyor.Logs.Sinks.DuckDb;

namespace Conveyor.Benchmarks.Storage;

/// <summary>
/// The DuckDB sink's per-block token filter (<see cref="BodyFilter"/>) over corpus access-log lines: from the received
/// UTF-8 bytes (what the sink does) against the decoded text, beside a plain sum of the same bytes (the floor: reading
/// each byte once). One invocation adds <see cref="Lines"/> lines and builds the block's filter; figures are per line.
/// <c>dotnet run -c Release --project bench/Conveyor.Benchmarks -- --filter '*BodyFilter*'</c>
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class BodyFilterBenchmarks
{
    private const int Lines = 20_000;
    private readonly BodyFilter _filter = new();
    private byte[][] _bytes = [];
    private string[] _text = [];

    [GlobalSetup]
    public void Setup()
    {
        _bytes = CorpusLines.Load("apache-combined.log", Lines);
        _text = [.. _bytes.Select(b => System.Text.Encoding.UTF8.GetString(b))];
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Lines)]
    public long SumOfBytes()
    {
        long sum = 0;
        foreach (var line in _bytes)
        {
            foreach (var b in line)
            {
                sum += b;
            }
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = Lines)]
    public int FromUtf8()
    {
        _filter.Clear();
        foreach (var line in _bytes)
        {
            _filter.Add(line, DateTime.UnixEpoch);
        }

        return _filter.Build().Length;
    }

    [Benchmark(OperationsPerInvoke = Lines)]
    public int FromText()
    {
        _filter.Clear();
        foreach (var line in _text)
        {
            _filter.Add(line, DateTime.UnixEpoch);
        }

        return _filter.Build().Length;
    }
}
