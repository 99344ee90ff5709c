using System.Net;
using System.Net.Sockets;
using Conveyor.Logs.Sources;
using Conveyor.Logs.Sources.Elasticsearch;
using Conveyor.Logs.Sources.Otlp;
using Conveyor.Logs.Configuration;
using Conveyor.Logs.Model;
using Microsoft.Extensions.Logging.Abstractions;

namespace Conveyor.Logs.Tests.Sources.Otlp;

/// <summary>A receiver on a free loopback port writing into a main buffer of its own, for in-process tests.</summary>
internal sealed class OtlpTestHost : IAsyncDisposable
{
    private OtlpTestHost(KestrelSource source, BoundedBuffer<RawLine> main, SourceInfo info)
    {
        Source = source;
        Main = main;
        Info = info;
    }

    public KestrelSource Source { get; }

    public BoundedBuffer<RawLine> Main { get; }

    public SourceInfo Info { get; }

    public Uri BaseAddress => new($"http://127.0.0.1:{Source.BoundPort}");

    /// <summary>Each request's acknowledgement, in the order the requests were admitted or refused.</summary>
    public System.Collections.Concurrent.ConcurrentQueue<Acknowledgement> Acknowledgements { get; } = new();

    /// <summary>
    /// Starts a receiver of <paramref name="type"/> over a main buffer of <paramref name="capacity"/> under
    /// <paramref name="fullMode"/>, which completes a dropped line's acknowledgement reference as the service's does;
    /// <paramref name="intake"/> puts another intake (the disk buffer) in front of it.
    /// </summary>
    public static async Task<OtlpTestHost> StartAsync(SourceType type, int capacity = 10_000, Action<SourceOptions>? configure = null, FullMode fullMode = FullMode.Block, Func<BoundedBuffer<RawLine>, Conveyor.Logs.Pipeline.LineIntake>? intake = null)
    {
        var options = new SourceOptions { Type = type, Port = FreePort(), BlockTimeout = TimeSpan.Zero };
        configure?.Invoke(options);
        var info = new SourceInfo(options.EffectiveName, SourceOptions.TypeName(type), type == SourceType.Elasticsearch ? Conveyor.Logs.Parsing.LogParsers.Create("json") : OtlpRecordParser.Instance);
        var main = new BoundedBuffer<RawLine>(new BufferOptions<RawLine>
        {
            Capacity = capacity,
            SizeOf = static l => l.Size,
            FullMode = fullMode,
            OnDropped = static (line, _) => line.Ack?.Complete(DeliveryOutcome.Dropped),
        });
        var writer = intake?.Invoke(main) ?? main.Writer;
        var view = new MainBufferView(capacity, null, static () => 7);
        KestrelSource source = type switch
        {
            SourceType.Otlp => new OtlpHttpSource(options, info, writer, NullLogger.Instance, TimeProvider.System, view),
            SourceType.OtlpGrpc => new OtlpGrpcSource(options, info, writer, NullLogger.Instance, TimeProvider.System, view),
            _ => new ElasticsearchSource(options, info, writer, NullLogger.Instance, TimeProvider.System, view),
        };
        var host = new OtlpTestHost(source, main, info);
        source.AcknowledgementCreated = host.Acknowledgements.Enqueue;
        await source.StartAsync(CancellationToken.None);
        return host;
    }

    /// <summary>Everything the buffer holds now, parsed by the source's parser.</summary>
    public List<Conveyor.Logs.Model.LogEvent> TakeEvents()
    {
        var events = new List<Conveyor.Logs.Model.LogEvent>();
        while (Main.Reader.TryRead(out var line))
        {
            var outcome = line.Source.Parser.Parse(line.Data, new Conveyor.Logs.Parsing.LineContext(line.Source.Name, line.Id, line.ReceivedAt));
            events.Add(outcome.Event ?? throw new InvalidOperationException(outcome.DeadLetter!.Reason));
        }

        return events;
    }

    public async ValueTask DisposeAsync()
    {
        await Source.StopAsync(CancellationToken.None);
        await Source.DisposeAsync();
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }
}
