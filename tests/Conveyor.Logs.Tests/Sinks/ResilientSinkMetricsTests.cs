using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Conveyor.Logs.Model;
using Conveyor.Logs.Sinks;
using Conveyor.Logs.Sinks.Sqlite;
using Conveyor.Logs.Tests.Support;

namespace Conveyor.Logs.Tests.Sinks;

public sealed class ResilientSinkMetricsTests
{
    /// <summary>Hands out meters and remembers them, so the listener hears only this test's sink.</summary>
    private sealed class OwnMeterFactory : IMeterFactory
    {
        public ConcurrentBag<Meter> Meters { get; } = [];

        public Meter Create(MeterOptions options)
        {
            var meter = new Meter(options);
            Meters.Add(meter);
            return meter;
        }

        public void Dispose()
        {
            foreach (var m in Meters)
            {
                m.Dispose();
            }
        }
    }

    [Fact]
    public async Task WriteBatchAsync_BatchWithPoison_CountsReceivedWrittenAndDeadLetteredWithSinkTag()
    {
        using var factory = new OwnMeterFactory();
        var totals = new ConcurrentDictionary<string, long>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (factory.Meters.Contains(instrument.Meter))
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            Assert.Contains(tags.ToArray(), t => t.Key == SinkInstrumentNames.SinkTag && (string?)t.Value == "sqlite");
            totals.AddOrUpdate(instrument.Name, value, (_, v) => v + value);
        });
        listener.Start();

        var path = Path.Combine(TestEvents.TempFolder(), "m.db");
        var batch = TestEvents.Batch("m", 99);
        batch.Insert(10, new LogEvent("poison", "web", new string('x', 5000), TestEvents.Base));
        await using (var sink = new ResilientSink(await SqliteSink.OpenAsync(new SqliteSinkOptions { Path = path, MaxEventBytes = 4096 }), meterFactory: factory))
        {
            Assert.Equal(SinkInstrumentNames.MeterName, factory.Meters.Single().Name);
            await sink.WriteBatchAsync(batch, default);
        }

        Assert.Equal(100, totals.GetValueOrDefault(SinkInstrumentNames.Received));
        Assert.Equal(99, totals.GetValueOrDefault(SinkInstrumentNames.Written));
        Assert.Equal(1, totals.GetValueOrDefault(SinkInstrumentNames.DeadLettered));
        Assert.Equal(0, totals.GetValueOrDefault(SinkInstrumentNames.Failed));
        Assert.Equal(0, totals.GetValueOrDefault(SinkInstrumentNames.Retried));
        Assert.Equal(1, SqliteTestDb.Scalar(path, "SELECT count(*) FROM dead_letters WHERE id = 'poison' AND parser = 'sink:sqlite' AND reason LIKE '%MaxEventBytes%'"));
    }
}
