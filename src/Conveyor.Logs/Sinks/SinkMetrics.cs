using System.Diagnostics.Metrics;

namespace Conveyor.Logs.Sinks;

/// <summary>The names of the instruments every sink emits on the <c>Conveyor</c> meter, tagged <c>sink=NAME</c>.</summary>
public static class SinkInstrumentNames
{
    /// <summary>The meter that owns every Conveyor instrument.</summary>
    public const string MeterName = "Conveyor";

    /// <summary>The tag naming the sink.</summary>
    public const string SinkTag = "sink";

    /// <summary>Events handed to the sink.</summary>
    public const string Received = "conveyor.sink.received";

    /// <summary>Events the store accepted (a replayed event the store already held counts too: it is stored).</summary>
    public const string Written = "conveyor.sink.written";

    /// <summary>Batch write attempts that failed transiently and were tried again.</summary>
    public const string Retried = "conveyor.sink.retried";

    /// <summary>
    /// Records lost for good: neither stored nor kept as dead letters after every retry and the dead-letter fallback.
    /// The service publishes it per sink from the same count as <c>/api/pipeline</c> (<c>dropped.failed</c>) and the
    /// shutdown report (<c>failed</c>); a batch whose retries ran out is not lost yet (it is offered again as dead letters).
    /// </summary>
    public const string Failed = "conveyor.sink.failed";

    /// <summary>Write attempts that failed transiently (the store unreachable, full or locked), retried or not.</summary>
    public const string Errors = "conveyor.sink.errors";

    /// <summary>Events the store refused, stored as dead letters instead.</summary>
    public const string DeadLettered = "conveyor.sink.dead_lettered";
}

/// <summary>The counters of one sink; one instance per sink, tagged with its name.</summary>
internal sealed class SinkMetrics : IDisposable
{
    private readonly Meter _meter;
    private readonly Counter<long> _received;
    private readonly Counter<long> _written;
    private readonly Counter<long> _retried;
    private readonly Counter<long> _errors;
    private readonly Counter<long> _deadLettered;
    private readonly KeyValuePair<string, object?> _tag;
    private readonly bool _ownsMeter;

    public SinkMetrics(string sinkName, IMeterFactory? meterFactory = null)
    {
        // With a factory (the service's DI container) instruments are shared and disposed by the host; without
        // one (CLI, tests) this sink owns its meter instance under the same name.
        _meter = meterFactory?.Create(SinkInstrumentNames.MeterName) ?? new Meter(SinkInstrumentNames.MeterName);
        _received = _meter.CreateCounter<long>(SinkInstrumentNames.Received, "{event}", "Events handed to the sink");
        _written = _meter.CreateCounter<long>(SinkInstrumentNames.Written, "{event}", "Events the store accepted");
        _retried = _meter.CreateCounter<long>(SinkInstrumentNames.Retried, "{attempt}", "Batch writes retried after a transient failure");
        _errors = _meter.CreateCounter<long>(SinkInstrumentNames.Errors, "{attempt}", "Write attempts that failed transiently");
        _deadLettered = _meter.CreateCounter<long>(SinkInstrumentNames.DeadLettered, "{event}", "Events refused by the store and dead-lettered");
        _tag = new(SinkInstrumentNames.SinkTag, sinkName);
        _ownsMeter = meterFactory is null;
    }

    public void Received(long n) => _received.Add(n, _tag);

    public void Written(long n) => _written.Add(n, _tag);

    public void Retried() => _retried.Add(1, _tag);

    public void Error() => _errors.Add(1, _tag);

    public void DeadLettered(long n) => _deadLettered.Add(n, _tag);

    public void Dispose()
    {
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }
}
