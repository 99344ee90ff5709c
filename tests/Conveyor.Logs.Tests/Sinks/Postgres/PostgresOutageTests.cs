using System.Diagnostics;
using Conveyor.Logs.Sinks;
using Conveyor.Logs.Sinks.Postgres;
using Conveyor.Logs.Tests.Support;

namespace Conveyor.Logs.Tests.Sinks.Postgres;

/// <summary>Stopping the shared server would break every other PostgreSQL test, so these run alone.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class PostgresOutageCollection
{
    public const string Name = "PostgreSQL outage";
}

[Collection(PostgresOutageCollection.Name)]
public sealed class PostgresOutageTests
{
    [Fact]
    public async Task WriteBatchAsync_ServerDownTenSecondsMidStream_StoresEverythingOnce()
    {
        var cs = await PostgresTestServer.CreateSchemaAsync(PostgresTestServer.Outage);
        const int batches = 400, perBatch = 200;
        var written = 0;
        var sink = new ResilientSink(await PostgresSink.OpenAsync(new PostgresSinkOptions { ConnectionString = cs }));
        var retry = ResilientSink.DefaultRetry();
        (retry.MaxAttempts, retry.BaseDelay, retry.MaxDelay) = (201, TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(1));
        var producer = Task.Run(async () =>
        {
            for (var b = 0; b < batches; b++)
            {
                // One batch at a time through the sink lane, whose stage retries through the outage.
                var report = await SinkLaneHarness.WriteAsync(sink, TestEvents.Batch("o", perBatch, b * perBatch), retry, deadline: TimeSpan.FromMinutes(5));
                Assert.Equal(perBatch, report.StoredEvents);
                Interlocked.Increment(ref written);
            }
        });

        try
        {
            await TestEvents.WaitUntilAsync(() => Task.FromResult(Volatile.Read(ref written) >= 5), TimeSpan.FromSeconds(60), "the first batches to be stored");
            await PostgresTestServer.PgCtlAsync(start: false, PostgresTestServer.Outage);
            await TestEvents.WaitUntilAsync(async () => !await PostgresTestServer.IsUpAsync(PostgresTestServer.Outage), TimeSpan.FromSeconds(30), "the server to be down");
            var down = Stopwatch.StartNew();
            var writtenWhenDown = Volatile.Read(ref written);

            // The outage lasts at least ten seconds, and the producer must be stuck retrying through it.
            await TestEvents.WaitUntilAsync(() => Task.FromResult(down.Elapsed >= TimeSpan.FromSeconds(10)), TimeSpan.FromSeconds(30), "ten seconds of outage");
            Assert.False(producer.IsCompleted, "the producer finished while the server was down");
            Assert.True(Volatile.Read(ref written) <= writtenWhenDown + 1, "batches were acknowledged while the server was down");
        }
        finally
        {
            if (!await PostgresTestServer.IsUpAsync(PostgresTestServer.Outage))
            {
                await PostgresTestServer.PgCtlAsync(start: true, PostgresTestServer.Outage);
            }
        }

        await TestEvents.WaitUntilAsync(() => PostgresTestServer.IsUpAsync(PostgresTestServer.Outage), TimeSpan.FromSeconds(60), "the server to be up");
        await producer.WaitAsync(TimeSpan.FromSeconds(120));
        await sink.DisposeAsync();

        Assert.Equal(batches * perBatch, await PostgresTestServer.ScalarAsync(cs, "SELECT count(*) FROM events"));
        Assert.Equal(batches * perBatch, await PostgresTestServer.ScalarAsync(cs, "SELECT count(DISTINCT id) FROM events"));
        Assert.Equal(0, await PostgresTestServer.ScalarAsync(cs, "SELECT count(*) FROM dead_letters"));
    }
}
