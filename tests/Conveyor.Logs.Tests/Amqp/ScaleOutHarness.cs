using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Conveyor.Logs.Amqp;
using Conveyor.Logs.Model;
using Conveyor.Logs.Parsing;
using Conveyor.Logs.Sinks;
using Conveyor.Logs.Sinks.Amqp;
using Conveyor.Logs.Sinks.Sqlite;
using Conveyor.Logs.Sources.Tcp;
using Conveyor.Logs.Sources.Amqp;
using Conveyor.Logs.Configuration;
using Conveyor.Logs.Pipeline;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;

namespace Conveyor.Logs.Tests.Amqp;

/// <summary>
/// An edge as <c>conveyor run --from tcp:// --to amqp://</c> builds it: a TCP source, the topology (parse workers,
/// the sink queue) and the amqp sink inside its retry wrapper.
/// </summary>
internal sealed class TestEdge : IAsyncDisposable
{
    private readonly TcpSource _source;
    private int _disposed;

    private TestEdge(LogTopology topology, TcpSource source)
    {
        Topology = topology;
        _source = source;
    }

    public LogTopology Topology { get; }

    public int Port => _source.LocalEndpoint!.Port;

    public long Published => Topology.GetSnapshot().Sinks[0].Stored;

    public static async Task<TestEdge> StartAsync(string amqpUri, int mainCapacity = 100_000, int queueCapacity = 50_000)
    {
        var sink = new ResilientSink(await AmqpSink.OpenAsync(AmqpSettings.Parse(amqpUri)));
        var options = new PipelineOptions
        {
            Buffer = new BufferSettings { Capacity = mainCapacity, MaxBytes = 64L << 20 },
            Parse = new ParseSettings { Workers = 1 },
        };
        var sinkOptions = new SinkOptions { Uri = amqpUri, BatchMaxItems = 5_000, Queue = new BufferSettings { Capacity = queueCapacity, MaxBytes = 32L << 20 } };
        var topology = new LogTopology(options, [new TopologySink("amqp", sinkOptions, sink)], NullLogger.Instance);
        topology.Start();
        var sourceOptions = new SourceOptions { Type = SourceType.Tcp, Host = "127.0.0.1", Port = 0 };
        var info = new SourceInfo("tcp-edge", "tcp", LogParsers.Create("auto"));
        var source = new TcpSource(sourceOptions, info, topology.Main.Writer, NullLogger.Instance, TimeProvider.System);
        topology.AddSource(info);
        await source.StartAsync(default);
        return new TestEdge(topology, source);
    }

    /// <summary>
    /// Sends <paramref name="count"/> access-log lines over one connection and returns how long it took. With
    /// <paramref name="perSecond"/>, it waits a fixed time after each chunk (no catching up after a stall), so a
    /// stall the edge imposes adds to the total.
    /// </summary>
    public async Task<TimeSpan> SendAsync(int count, int perSecond = int.MaxValue, int padding = 0)
    {
        var watch = Stopwatch.StartNew();
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, Port);
        var stream = client.GetStream();
        var buffer = new StringBuilder(300 * 1024);
        var pad = new string('x', padding);
        var inChunk = 0;
        for (var i = 0; i < count; i++)
        {
            buffer.Append(Line(i, pad)).Append('\n');
            inChunk++;
            if (buffer.Length > 256 * 1024 || i == count - 1)
            {
                await stream.WriteAsync(Encoding.UTF8.GetBytes(buffer.ToString()));
                buffer.Clear();
                if (perSecond != int.MaxValue)
                {
                    await Task.Delay(TimeSpan.FromSeconds(inChunk / (double)perSecond));   // pacing the sender, not waiting for a result
                }

                inChunk = 0;
            }
        }

        await stream.FlushAsync();
        client.Client.Shutdown(SocketShutdown.Send);
        return watch.Elapsed;
    }

    /// <summary>Line <paramref name="i"/>: a combined access-log line, its URL padded with <paramref name="pad"/>.</summary>
    public static string Line(int i, string pad = "") =>
        $"10.1.{i % 256}.{i % 200} - - [01/Dec/2026:10:{i / 60000 % 60:D2}:{i / 1000 % 60:D2} +0000] \"GET /item/{i}{(pad.Length > 0 ? "?p=" + pad : string.Empty)} HTTP/1.1\" 200 {i % 5000} \"-\" \"curl/8.5\"";

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _source.StopAsync(default);
        await Topology.DrainAsync(TimeSpan.FromSeconds(30));
        await _source.DisposeAsync();
        await Topology.DisposeAsync();
    }
}

/// <summary>
/// One SQLite store shared by the workers of a test (its writes serialised, as one database takes them), idempotent
/// on the event id like every Conveyor store.
/// </summary>
internal sealed class SharedStore : IAsyncDisposable
{
    private readonly SemaphoreSlim _lock = new(1, 1);
    private readonly SqliteSink _sink;
    private readonly string _path;

    private SharedStore(SqliteSink sink, string path)
    {
        _sink = sink;
        _path = path;
    }

    public static async Task<SharedStore> OpenAsync()
    {
        var path = Path.Combine(Support.TestEvents.TempFolder(), "store.db");
        return new SharedStore(await SqliteSink.OpenAsync(new SqliteSinkOptions { Path = path }), path);
    }

    public async Task WriteAsync(IReadOnlyList<LogEvent> events, IReadOnlyList<DeadLetter> dead)
    {
        await _lock.WaitAsync();
        try
        {
            if (events.Count > 0)
            {
                await _sink.WriteBatchAsync(events, default);
            }

            if (dead.Count > 0)
            {
                await _sink.WriteDeadLettersAsync(dead, default);
            }
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>Rows stored and distinct ids among them (the id is unique in the schema, so they differ only if that broke).</summary>
    public async Task<(long Rows, long Distinct)> CountAsync()
    {
        await using var c = new SqliteConnection($"Data Source={_path};Mode=ReadOnly");
        await c.OpenAsync();
        await using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT count(*), count(DISTINCT id) FROM events";
        await using var r = await cmd.ExecuteReaderAsync();
        await r.ReadAsync();
        return (r.GetInt64(0), r.GetInt64(1));
    }

    public async Task<List<string>> IdsAsync()
    {
        await using var c = new SqliteConnection($"Data Source={_path};Mode=ReadOnly");
        await c.OpenAsync();
        await using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT id FROM events";
        var ids = new List<string>();
        await using var r = await cmd.ExecuteReaderAsync();
        while (await r.ReadAsync())
        {
            ids.Add(r.GetString(0));
        }

        return ids;
    }

    public async ValueTask DisposeAsync()
    {
        await _sink.DisposeAsync();
        _lock.Dispose();
    }
}

/// <summary>
/// A worker: the amqp source, a buffer, and a loop that parses each batch, writes it to the shared store and then
/// completes the records' acknowledgement, which is what the pipeline's sinks do once they carry it (issue 11).
/// </summary>
internal sealed class TestWorker : IAsyncDisposable
{
    private readonly ConcurrentQueue<Acknowledgement> _acks = new();
    private readonly BoundedBuffer<RawLine> _buffer;
    private readonly SharedStore _store;
    private readonly Task _loop;
    private readonly CancellationTokenSource _stop = new();
    private int _disposed;
    private long _stored;

    private TestWorker(AmqpSource source, BoundedBuffer<RawLine> buffer, SharedStore store)
    {
        Source = source;
        _buffer = buffer;
        _store = store;
        source.AcknowledgementCreated = _acks.Enqueue;
        _loop = Task.Run(LoopAsync);
    }

    public AmqpSource Source { get; }

    public long Stored => Interlocked.Read(ref _stored);

    /// <summary>The worker's counters, for a failure message.</summary>
    public string Describe() =>
        $"messages {Source.Messages} acked {Source.Acknowledged} stale {Source.Stale} stored {Stored} buffered {_buffer.Count} loop {_loop.Status} {_loop.Exception?.GetBaseException().Message}";

    public static async Task<TestWorker> StartAsync(string amqpUri, SharedStore store)
    {
        var buffer = new BoundedBuffer<RawLine>(new BufferOptions<RawLine> { Capacity = 20_000 });
        var options = new SourceOptions { Type = SourceType.Amqp, Uri = amqpUri };
        var info = new SourceInfo("amqp", "amqp", new AmqpRecordParser(LogParsers.Create("auto")));
        var source = new AmqpSource(options, info, buffer.Writer, NullLogger.Instance, TimeProvider.System);
        var worker = new TestWorker(source, buffer, store);
        await source.StartAsync(default);
        return worker;
    }

    /// <summary>Dies as a SIGKILLed process would: the connection drops, nothing more is stored or acknowledged.</summary>
    public async Task CrashAsync()
    {
        await _stop.CancelAsync();
        await Source.CrashAsync();
        try
        {
            await _loop;
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await Source.StopAsync(default);
        await _stop.CancelAsync();
        try
        {
            await _loop;
        }
        catch (OperationCanceledException)
        {
        }

        await Source.DisposeAsync();
        _stop.Dispose();
    }

    private async Task LoopAsync()
    {
        var batch = new List<RawLine>(1_000);
        Acknowledgement? current = null;
        var left = 0;
        while (!_stop.IsCancellationRequested)
        {
            batch.Clear();
            if (await _buffer.Reader.ReadBatchAsync(batch, 1_000, long.MaxValue, TimeSpan.FromMilliseconds(20), _stop.Token) == 0)
            {
                return;
            }

            var events = new List<LogEvent>(batch.Count);
            var dead = new List<DeadLetter>();
            foreach (var line in batch)
            {
                var outcome = line.Source.Parser.Parse(line.Data, new LineContext(line.Source.Name, line.Id, line.ReceivedAt));
                if (outcome.Event is { } e)
                {
                    events.Add(e);
                }
                else
                {
                    dead.Add(outcome.DeadLetter!);
                }
            }

            await _store.WriteAsync(events, dead);
            Interlocked.Add(ref _stored, events.Count);

            // Lines arrive in message order, each message's acknowledgement queued before its lines: complete a
            // reference per line now that the store committed it.
            var n = batch.Count;
            while (n > 0)
            {
                while (left == 0)
                {
                    // An acknowledgement already complete belongs to a message the buffer refused: none of its lines came.
                    if (!_acks.TryDequeue(out current))
                    {
                        throw new InvalidOperationException("a line arrived without its message's acknowledgement");
                    }

                    left = current.Pending;
                }

                var take = Math.Min(n, left);
                current!.Complete(DeliveryOutcome.Delivered, take);
                left -= take;
                n -= take;
            }
        }
    }
}
