using System.Text;
using Conveyor.Logs.Configuration;
using Conveyor.Logs.Diagnostics;
using Conveyor.Logs.Model;
using Conveyor.Logs.Parsing;
using Conveyor.Logs.Pipeline;
using Conveyor.Logs.Sinks;
using Conveyor.Logs.Sinks.DuckDb;
using Conveyor.Logs.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;

namespace Conveyor.Logs.Tests.Sinks;

/// <summary>
/// Several writer connections (<see cref="DuckDbSinkOptions.Writers"/>): concurrent writes of the same positions store
/// each event once (the reservation), and the exclusive calls wait for the writes in progress.
/// </summary>
public sealed class DuckDbWritersTests
{
    private readonly string _path = Path.Combine(TestEvents.TempFolder(), "conveyor.duckdb");

    /// <summary>Numbered events of one stream: id STREAM:N is position N.</summary>
    private static List<LogEvent> Numbered(string stream, int from, int count) =>
        Enumerable.Range(from, count).Select(i => new LogEvent($"{stream}:{i}", "tcp", $"line {i} of {stream}", TestEvents.Base.AddMilliseconds(i))).ToList();

    /// <summary>
    /// A write appends synchronously, so each writer gets its own thread: on 2 cores the thread pool, busy with the
    /// other test classes, could start the second only after the first finished.
    /// </summary>
    private static Task OnOwnThread(Func<Task> work) =>
        Task.Factory.StartNew(work, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();

    private static async Task WriteAsync(DuckDbSink sink, List<LogEvent> batch) =>
        await sink.WritePreparedAsync(await sink.PrepareBatchAsync(batch, default), default);

    [Fact]
    public async Task WritePreparedAsync_TwoWritersOverlappingAndRepeatedBatchesFromFourTasks_StoresEachDistinctIdOnce()
    {
        // Four tasks each write every batch twice, in their own order: batches of 2,000 starting every 1,000, so each
        // position is in two batches, written eight times in all, mostly while another write of it is in progress.
        const int distinct = 20_000;
        var batches = Enumerable.Range(0, distinct / 1000 - 1).Select(k => Numbered("tcp:9:1", k * 1000, 2000)).ToList();
        await using (var sink = await DuckDbSink.OpenAsync(new DuckDbSinkOptions { Path = _path, Writers = 2 }))
        {
            var tasks = Enumerable.Range(0, 4).Select(t => OnOwnThread(async () =>
            {
                var order = batches.Concat(batches).OrderBy(_ => Random.Shared.Next()).ToList();
                foreach (var b in order)
                {
                    await WriteAsync(sink, b);
                }
            }));
            await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(120));
            Assert.Equal((0, 2), sink.WritesInProgress);
        }

        Assert.Equal(distinct, DuckDbTestDb.Scalar(_path, "SELECT count(DISTINCT id) FROM events"));
        Assert.Equal(distinct, DuckDbTestDb.Scalar(_path, "SELECT count(*) FROM events"));
    }

    [Fact]
    public async Task WritePreparedAsync_TwoWritersReplayAfterReopen_StoresNothingTwice()
    {
        await using (var sink = await DuckDbSink.OpenAsync(new DuckDbSinkOptions { Path = _path, Writers = 2 }))
        {
            await WriteAsync(sink, Numbered("http:1:7", 0, 5_000));
            await WriteAsync(sink, Numbered("http:1:7", 10_000, 5_000));
        }

        // A crash replay after the restart, by two racing replayers in step: everything again, including the gaps that
        // never arrived, so both find the same new positions at once.
        await using (var sink = await DuckDbSink.OpenAsync(new DuckDbSinkOptions { Path = _path, Writers = 2 }))
        {
            var batches = Enumerable.Range(0, 10).Select(k => Numbered("http:1:7", k * 2000, 2000)).ToList();
            await Task.WhenAll(Enumerable.Range(0, 2).Select(t => OnOwnThread(async () =>
            {
                foreach (var b in batches)
                {
                    await WriteAsync(sink, b);
                }
            }))).WaitAsync(TimeSpan.FromSeconds(120));
            Assert.Equal(1, sink.RememberedRanges);
        }

        Assert.Equal(20_000, DuckDbTestDb.Scalar(_path, "SELECT count(DISTINCT id) FROM events"));
        Assert.Equal(20_000, DuckDbTestDb.Scalar(_path, "SELECT count(*) FROM events"));
    }

    [Fact]
    public async Task ApplyRetentionAndDispose_TwoWritesInProgress_WaitForBothToCommit()
    {
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(TestEvents.Base.AddHours(2));
        var sink = await DuckDbSink.OpenAsync(new DuckDbSinkOptions { Path = _path, Writers = 2, RetentionMaxAge = TimeSpan.FromHours(1) }, clock);
        await WriteAsync(sink, TestEvents.Batch("old", 10));
        var recent = TestEvents.Base.AddMinutes(90);
        List<LogEvent> Big(string stream) => Enumerable.Range(0, 20_000).Select(i => new LogEvent($"{stream}:{i}", "tcp", $"line {i}", recent)).ToList();

        // Retention: both writes have appended (their positions reserved) and wait to commit when it is called, and it
        // returns only after both committed; then dispose, with two more writes in progress.
        foreach (var step in new[] { "retention", "dispose" })
        {
            using var release = new ManualResetEventSlim();
            var waiting = 0;
            sink.BeforeCommit = () =>
            {
                Interlocked.Increment(ref waiting);
                Assert.True(release.Wait(TimeSpan.FromSeconds(30)), "released");
            };
            var prepared = new[] { await sink.PrepareBatchAsync(Big(step + ":a"), default), await sink.PrepareBatchAsync(Big(step + ":b"), default) };
            var writes = prepared.Select(p => OnOwnThread(async () => await sink.WritePreparedAsync(p, default))).ToArray();
            await TestEvents.WaitUntilAsync(() => Task.FromResult(Volatile.Read(ref waiting) == 2 || writes.Any(w => w.IsCompleted)), TimeSpan.FromSeconds(30), "two writes in progress");
            Assert.Equal(2, sink.WritesInProgress.Now);
            var call = step == "retention" ? sink.ApplyRetentionAsync() : sink.DisposeAsync().AsTask();
            Assert.False(call.IsCompleted, step + " returned while two writes were in progress");
            release.Set();
            if (call is Task<RetentionResult> retention)
            {
                Assert.Equal(10, (await retention).Events);
            }
            else
            {
                await call;
            }

            Assert.All(writes, w => Assert.True(w.IsCompletedSuccessfully, step + " returned while a write was in progress"));
        }

        Assert.Equal(4 * 20_000, DuckDbTestDb.Scalar(_path, "SELECT count(*) FROM events"));
    }

    [Fact]
    public async Task Topology_DuckDbWithTwoWritersAndReplayedLines_SentEqualsStoredPlusDeadLetteredPlusDropped()
    {
        // Lines 0..59,999 of one connection, and every third line from 3,000 on followed by a replay of the line 1,500
        // before it (a sender resending after an unknown outcome): a batch of 2,000 then holds positions of the batch
        // before it, which the lane's other worker is writing at the same time.
        const int lines = 60_000;
        var options = new PipelineOptions
        {
            Sources = [new SourceOptions { Type = SourceType.Tcp, Port = 1 }],
            Sinks = [new SinkOptions { Uri = "duckdb:" + _path, BatchMaxItems = 2_000 }],
        };
        var sink = new ResilientSink(await DuckDbSink.OpenAsync(new DuckDbSinkOptions { Path = _path, Writers = 2 }));
        Assert.Equal(2, sink.ConcurrentWrites);
        static string Line(int i) => i % 50 == 0 ? "{\u0001 not a log line" : $"10.0.0.{i % 250} - - [27/Nov/2026:10:00:00 +0000] \"GET /{i} HTTP/1.1\" 200 12 \"-\" \"curl/8\"";
        var sent = 0L;
        ShutdownReport report;
        await using (var topology = new LogTopology(options, [new TopologySink("duckdb", options.Sinks[0], sink)], NullLogger.Instance))
        {
            var source = new SourceInfo("test", "tcp", LogParsers.Create("auto"));
            topology.AddSource(source);
            topology.Start();
            for (var i = 0; i < lines; i++)
            {
                foreach (var n in i >= 3000 && i % 3 == 0 ? new[] { i, i - 1500 } : [i])
                {
                    Assert.True(await topology.Main.Writer.WriteAsync(new RawLine(Encoding.UTF8.GetBytes(Line(n)), source, "tcp:5:" + n, DateTimeOffset.UtcNow, null)));
                    sent++;
                }
            }

            report = await topology.DrainAsync(TimeSpan.FromSeconds(60));
        }

        Assert.True(report.Completed);
        var s = Assert.Single(report.Sinks);
        Assert.Equal(sent, s.StoredEvents + s.StoredDeadLetters + s.Rejected + s.DroppedAtQueue + s.Failed);
        Assert.Equal((0L, 0L, 0L), (s.Rejected, s.DroppedAtQueue, s.Failed));

        // The store holds each line once: a replay counts as stored in the lane (it is), but adds no row.
        Assert.Equal(lines - (lines / 50), DuckDbTestDb.Scalar(_path, "SELECT count(DISTINCT id) FROM events"));
        Assert.Equal(lines - (lines / 50), DuckDbTestDb.Scalar(_path, "SELECT count(*) FROM events"));
        Assert.Equal(lines / 50, DuckDbTestDb.Scalar(_path, "SELECT count(*) FROM dead_letters"));
    }

    [Fact]
    public async Task Topology_TwoWritersEveryThirdWriteLosesItsAcknowledgement_RetriesStoreEachLineOnceAndTheSumHolds()
    {
        // Every third write commits and then fails transiently, as a store whose reply was lost: the lane retries the
        // batch (a new preparation) while its other worker writes the next one, and the retry must store nothing twice.
        const int lines = 30_000;
        var sinkOptions = new SinkOptions
        {
            Uri = "duckdb:" + _path,
            BatchMaxItems = 1_000,
            Retry = new RetryOptions { MaxAttempts = 10, BaseDelay = TimeSpan.FromMilliseconds(1), MaxDelay = TimeSpan.FromMilliseconds(5) },
        };
        var options = new PipelineOptions
        {
            Sources = [new SourceOptions { Type = SourceType.Tcp, Port = 1 }],
            Sinks = [sinkOptions],
        };
        var inner = await DuckDbSink.OpenAsync(new DuckDbSinkOptions { Path = _path, Writers = 2 });
        var lossy = new AckLosingSink(inner, every: 3);
        var sink = new ResilientSink(lossy);
        static string Line(int i) => $"10.0.0.{i % 250} - - [27/Nov/2026:10:00:00 +0000] \"GET /{i} HTTP/1.1\" 200 12 \"-\" \"curl/8\"";
        ShutdownReport report;
        await using (var topology = new LogTopology(options, [new TopologySink("duckdb", sinkOptions, sink)], NullLogger.Instance))
        {
            var source = new SourceInfo("test", "tcp", LogParsers.Create("auto"));
            topology.AddSource(source);
            topology.Start();
            for (var i = 0; i < lines; i++)
            {
                Assert.True(await topology.Main.Writer.WriteAsync(new RawLine(Encoding.UTF8.GetBytes(Line(i)), source, "tcp:7:" + i, DateTimeOffset.UtcNow, null)));
            }

            report = await topology.DrainAsync(TimeSpan.FromSeconds(60));
        }

        Assert.True(report.Completed);
        Assert.True(lossy.Lost > 0, "no acknowledgement was lost, so nothing was retried");
        Assert.True(lossy.MostAtOnce == 2, $"the two writers never wrote at once (at most {lossy.MostAtOnce})");
        var s = Assert.Single(report.Sinks);
        Assert.Equal(lines, s.StoredEvents + s.StoredDeadLetters + s.Rejected + s.DroppedAtQueue + s.Failed);
        Assert.Equal((lines, 0L, 0L, 0L, 0L), (s.StoredEvents, s.StoredDeadLetters, s.Rejected, s.DroppedAtQueue, s.Failed));
        Assert.Equal(lines, DuckDbTestDb.Scalar(_path, "SELECT count(DISTINCT id) FROM events"));
        Assert.Equal(lines, DuckDbTestDb.Scalar(_path, "SELECT count(*) FROM events"));
    }

    /// <summary>Passes prepared writes to a DuckDB sink and, after every <c>every</c>-th one has committed, throws as if its reply was lost.</summary>
    private sealed class AckLosingSink(DuckDbSink inner, int every) : ILogSink
    {
        private int _writes;
        private int _lost;
        private int _now;
        private int _most;

        public int Lost => Volatile.Read(ref _lost);

        public int MostAtOnce => Volatile.Read(ref _most);

        public string Name => inner.Name;

        public bool PreparesBatches => true;

        public int ConcurrentWrites => inner.ConcurrentWrites;

        public ValueTask<PreparedBatch> PrepareBatchAsync(IReadOnlyList<LogEvent> batch, CancellationToken cancellationToken) =>
            inner.PrepareBatchAsync(batch, cancellationToken);

        public async ValueTask WritePreparedAsync(PreparedBatch batch, CancellationToken cancellationToken)
        {
            var now = Interlocked.Increment(ref _now);
            int most;
            while (now > (most = Volatile.Read(ref _most)) && Interlocked.CompareExchange(ref _most, now, most) != most)
            {
            }

            try
            {
                // On its own thread, as the lane's writes would be on more cores: a write appends synchronously.
                await Task.Factory.StartNew(() => inner.WritePreparedAsync(batch, cancellationToken).AsTask(), cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();
            }
            finally
            {
                Interlocked.Decrement(ref _now);
            }

            if (Interlocked.Increment(ref _writes) % every == 0)
            {
                Interlocked.Increment(ref _lost);
                throw new SinkException("the store's reply was lost", isTransient: true);
            }
        }

        public ValueTask WriteBatchAsync(IReadOnlyList<LogEvent> batch, CancellationToken cancellationToken) => inner.WriteBatchAsync(batch, cancellationToken);

        public ValueTask WriteDeadLettersAsync(IReadOnlyList<DeadLetter> batch, CancellationToken cancellationToken) => inner.WriteDeadLettersAsync(batch, cancellationToken);

        public ValueTask<SinkHealth> CheckHealthAsync(CancellationToken cancellationToken) => inner.CheckHealthAsync(cancellationToken);

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
