using BenchmarkDotNet.Attributes;
using Conveyor.Logs.Parsing;

namespace Conveyor.Benchmarks.Parsing;

/// <summary>
/// Parser throughput on the test corpus (tests/corpus), per line (each benchmark parses every line of a file once;
/// OperationsPerInvoke makes the figures per line). The regex baseline parses the same combined grammar.
/// Min and median are shown because the machine is shared: interference only ever adds time, so the minimum is the
/// steadiest figure to compare.
/// </summary>
/// <remarks>Run: <c>dotnet run -c Release --project bench/Conveyor.Benchmarks -- --filter '*Parse*' --job short</c></remarks>
[MemoryDiagnoser]
[MinColumn]
[MedianColumn]
public class ParseBenchmarks
{
    private const int Lines = 1000;
    private static readonly DateTimeOffset Received = new(2026, 11, 27, 6, 0, 0, TimeSpan.Zero);
    private readonly ILogParser _combined = LogParsers.Create("combined");
    private readonly ILogParser _auto = LogParsers.Create("auto");
    private readonly ILogParser _syslog5424 = LogParsers.Create("syslog5424");
    private readonly ILogParser _syslog3164 = LogParsers.Create("syslog3164");
    private readonly ILogParser _json = LogParsers.Create("json");
    private readonly ILogParser _logfmt = LogParsers.Create("logfmt");
    private readonly RegexCombinedParser _regex = new();
    private byte[][] _apache = [];
    private byte[][] _rfc5424 = [];
    private byte[][] _rfc3164 = [];
    private byte[][] _jsonAccess = [];
    private byte[][] _logfmtLines = [];

    [GlobalSetup]
    public void Setup()
    {
        _apache = CorpusLines.Load("apache-combined.log", Lines);
        _rfc5424 = CorpusLines.Load("syslog-rfc5424.log", Lines);
        _rfc3164 = CorpusLines.Load("syslog-rfc3164.log", Lines);
        _jsonAccess = CorpusLines.Load("json-access.log", Lines);
        _logfmtLines = CorpusLines.Load("logfmt.log", Lines);

        // The comparison is only fair if the baseline does the whole job on the same lines.
        if (CombinedRegexBaseline() != Combined())
        {
            throw new InvalidOperationException($"regex baseline parsed {CombinedRegexBaseline()} lines, span parser {Combined()}");
        }
    }

    [Benchmark(OperationsPerInvoke = Lines, Baseline = true)]
    public int CombinedRegexBaseline()
    {
        var ok = 0;
        foreach (var line in _apache)
        {
            ok += _regex.Parse(line, new LineContext("b", "b:1", Received)) is null ? 0 : 1;
        }

        return ok;
    }

    [Benchmark(OperationsPerInvoke = Lines)]
    public int Combined() => Run(_combined, _apache);

    [Benchmark(OperationsPerInvoke = Lines)]
    public int CombinedAuto() => Run(_auto, _apache);

    [Benchmark(OperationsPerInvoke = Lines)]
    public int Syslog5424() => Run(_syslog5424, _rfc5424);

    [Benchmark(OperationsPerInvoke = Lines)]
    public int Syslog5424Auto() => Run(_auto, _rfc5424);

    [Benchmark(OperationsPerInvoke = Lines)]
    public int Syslog3164() => Run(_syslog3164, _rfc3164);

    [Benchmark(OperationsPerInvoke = Lines)]
    public int Syslog3164Auto() => Run(_auto, _rfc3164);

    [Benchmark(OperationsPerInvoke = Lines)]
    public int Json() => Run(_json, _jsonAccess);

    [Benchmark(OperationsPerInvoke = Lines)]
    public int JsonAuto() => Run(_auto, _jsonAccess);

    [Benchmark(OperationsPerInvoke = Lines)]
    public int Logfmt() => Run(_logfmt, _logfmtLines);

    [Benchmark(OperationsPerInvoke = Lines)]
    public int LogfmtAuto() => Run(_auto, _logfmtLines);

    private static int Run(ILogParser parser, byte[][] lines)
    {
        var ok = 0;
        foreach (var line in lines)
        {
            ok += parser.Parse(line, new LineContext("b", "b:1", Received)).Succeeded ? 1 : 0;
        }

        return ok;
    }
}
