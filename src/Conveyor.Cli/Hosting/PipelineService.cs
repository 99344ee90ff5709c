using Conveyor.Logs.Configuration;
using Conveyor.Logs.Diagnostics;
using Conveyor.Logs.Model;
using Conveyor.Logs.Parsing;
using Conveyor.Logs.Pipeline;
using Conveyor.Logs.Query;
using Conveyor.Logs.Sinks.DuckDb;
using Conveyor.Logs.Sinks.Sqlite;
using Conveyor.Logs.Sources;
using Conveyor.Logs.Sources.Http;

namespace Conveyor.Cli.Hosting;

/// <summary>
/// Runs the topology and its sources inside the host. Start: open sinks, start the workers, bind every source
/// (a port in use fails the start). Stop (SIGTERM/SIGINT or stdin's end): stop accepting and reading, drain every
/// buffer and sink queue within <see cref="ShutdownSettings.DrainTimeout"/>, flush the sinks, log the report.
/// </summary>
internal sealed partial class PipelineService : IHostedService, IAsyncDisposable
{
    private readonly PipelineOptions _options;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly ILogger<PipelineService> _logger;
    private readonly ILoggerFactory _loggers;
    private readonly TimeProvider _time;
    private readonly List<LogSource> _sources = [];
    private readonly TaskCompletionSource<LogTopology> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private LogTopology? _topology;
    private StoreMaintenance? _maintenance;
    private ShutdownReport? _report;
    private int _disposed;

    public PipelineService(PipelineOptions options, IHostApplicationLifetime lifetime, ILoggerFactory loggers, TimeProvider time)
    {
        _options = options;
        _lifetime = lifetime;
        _loggers = loggers;
        _logger = loggers.CreateLogger<PipelineService>();
        _time = time;
        foreach (var http in options.Sources.Where(static s => s.Type == SourceType.Http))
        {
            HttpSources.Add(new HttpSourceBinding(http, new SourceInfo(http.EffectiveName, "http", CreateParser(http))));
        }
    }

    /// <summary>
    /// The search side of the first DuckDB sink, through the writer's own database instance (DuckDB admits one process
    /// per file, and opening it per request would be slow): <c>/api/search</c> and the dashboard use it. Null before the
    /// start and without a DuckDB sink.
    /// </summary>
    public ILogStore? WriterStore { get; private set; }

    /// <summary>The database files of the DuckDB sinks, once started: the service advertises its address beside them.</summary>
    public IReadOnlyList<string> DuckDbPaths { get; private set; } = [];

    /// <summary>The topology, once started; endpoints use it.</summary>
    public LogTopology? Topology => _topology;

    /// <summary>The HTTP sources; the ingest endpoint picks one by the local port of the request.</summary>
    public List<HttpSourceBinding> HttpSources { get; } = [];

    /// <summary>The report of the last stop, for tests.</summary>
    public ShutdownReport? Report => _report;

    /// <summary>True once the service began to stop: ingest answers 503 from then on.</summary>
    public bool IsStopping => _topology?.IsStopping ?? false;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var sinks = await SinkOpener.OpenAllAsync(_options.Sinks, _time, cancellationToken, _loggers).ConfigureAwait(false);
        var duckDbSinks = sinks.Select(static s => SinkOpener.Unwrap<DuckDbSink>(s.Sink)).OfType<DuckDbSink>().ToList();
        DuckDbPaths = [.. duckDbSinks.Select(static d => d.Path)];
        WriterStore = duckDbSinks.FirstOrDefault()?.OpenStore();
        WarnAboutOldDefault(duckDbSinks);
        var topology = new LogTopology(_options, sinks, _loggers.CreateLogger<LogTopology>(), _time);
        _topology = topology;
        topology.Start();
        _maintenance = new StoreMaintenance(sinks, _loggers.CreateLogger<StoreMaintenance>(), _time);
        _maintenance.Start();
        foreach (var http in HttpSources)
        {
            topology.AddSource(http.Info);
        }

        foreach (var options in _options.Sources.Where(static s => s.Type != SourceType.Http))
        {
            var info = new SourceInfo(options.EffectiveName, SourceOptions.TypeName(options.Type), CreateParser(options));
            var logger = _loggers.CreateLogger("Conveyor.Sources." + info.Name);
            var source = SourceRegistry.Create(new SourceContext(options, info, topology.Intake, logger, _time) { Main = MainView(topology) });
            await source.StartAsync(cancellationToken).ConfigureAwait(false);
            _sources.Add(source);
            topology.AddSource(info);
        }

        topology.SourcesReady();
        // The HTTP sources are served by the host's own web server, which binds after this hosted service started:
        // "Pipeline started" waits for it, so whoever waits for the line (a script, a test) finds every port listening.
        var sinkNames = string.Join(", ", sinks.Select(static s => s.Name));
        _lifetime.ApplicationStarted.Register(() => LogStarted(_logger, _options.Sources.Count, sinkNames, _options.Buffer.Capacity ?? PipelineOptions.DefaultMainCapacity, (_options.Buffer.MaxBytes ?? PipelineOptions.DefaultMainMaxBytes) >> 20));
        _ready.TrySetResult(topology);
        if (HttpSources.Count == 0 && _sources.Count > 0 && _sources.All(static s => s.EndsByItself))
        {
            // Standard input (or a fixed set of such sources) is the whole input: when it ends, the job is done.
            _ = Task.WhenAll(_sources.Select(static s => s.Completion)).ContinueWith(_ => _lifetime.StopApplication(), TaskScheduler.Default);
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_topology is not { } topology || _report is not null)
        {
            return;
        }

        LogStopping(_logger, _options.Shutdown.DrainTimeout.TotalSeconds);
        var started = _time.GetTimestamp();
        if (_maintenance is not null)
        {
            // No retention while draining: the stores' time goes to the last writes.
            await _maintenance.DisposeAsync().ConfigureAwait(false);
        }

        // Reading open connections on to their end gets half the deadline at most: a sender that keeps writing would
        // otherwise keep the buffer full until the deadline, and everything admitted but not yet stored would be left.
        // Lines already read still go into the buffer after the read-on deadline; the other half drains them.
        using var deadline = new CancellationTokenSource(_options.Shutdown.DrainTimeout, _time);
        using var readOn = new CancellationTokenSource(_options.Shutdown.DrainTimeout / 2, _time);
        await Task.WhenAll(_sources.Select(s => s.StopAsync(readOn.Token, deadline.Token))).ConfigureAwait(false);
        LogSourcesStopped(_logger, _time.GetElapsedTime(started).TotalSeconds, topology.Main.Count);
        var remaining = _options.Shutdown.DrainTimeout - _time.GetElapsedTime(started);
        var report = await topology.DrainAsync(remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero).ConfigureAwait(false);
        _report = report with { Took = _time.GetElapsedTime(started) };
        ShutdownLog.Write(_logger, _report);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        foreach (var s in _sources)
        {
            await s.DisposeAsync().ConfigureAwait(false);
        }

        if (WriterStore is not null)
        {
            await WriterStore.DisposeAsync().ConfigureAwait(false);
        }

        if (_maintenance is not null)
        {
            await _maintenance.DisposeAsync().ConfigureAwait(false);
        }

        if (_topology is not null)
        {
            await _topology.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static MainBufferView MainView(LogTopology topology) =>
        new(topology.Main.Capacity, topology.Main.MaxBytes, topology.RetryAfterSeconds);

    /// <summary>
    /// Before DuckDB, the default store was SQLite at <c>./conveyor-data/conveyor.db</c>. When that file sits beside a
    /// DuckDB store and no sink writes it, its events are not searchable here: say so, with the command that moves them.
    /// </summary>
    private void WarnAboutOldDefault(List<DuckDbSink> duckDbSinks)
    {
        var oldName = Path.GetFileName(SqliteSinkOptions.DefaultPath);
        foreach (var d in duckDbSinks)
        {
            var old = Path.Combine(Path.GetDirectoryName(d.Path) ?? ".", oldName);
            var written = _options.Sinks.Any(s => s.Uri.StartsWith("sqlite:", StringComparison.OrdinalIgnoreCase) && Path.GetFullPath(s.Uri["sqlite:".Length..]) == old);
            if (File.Exists(old) && !written)
            {
                LogOldDefault(_logger, old, $"conveyor store copy --from sqlite:{old} --to duckdb:{d.Path}");
            }
        }
    }

    private ILogParser CreateParser(SourceOptions options)
    {
        if (SourceRegistry.For(options.Type).OwnParser is { } own)
        {
            return own;
        }

        PipelineOptionsValidator.TryFindTimeZone(_options.Parse.TimeZone, out var zone);
        var parser = LogParsers.Create(options.EffectiveFormat, new ParserOptions { TimeZone = zone ?? TimeZoneInfo.Utc });
        return SourceRegistry.For(options.Type).Parser(parser);
    }

    [LoggerMessage(EventId = 100, Level = LogLevel.Information, Message = "Pipeline started: {Sources} sources, sinks [{Sinks}], main buffer {Capacity} lines / {MaxMiB} MiB")]
    private static partial void LogStarted(ILogger logger, int sources, string sinks, int capacity, long maxMiB);

    [LoggerMessage(EventId = 102, Level = LogLevel.Warning, Message = "Found {OldStore}, the SQLite store older versions wrote by default; its events are not searched here. To keep them searchable, copy them once (with this service stopped): {Command}")]
    private static partial void LogOldDefault(ILogger logger, string oldStore, string command);

    [LoggerMessage(EventId = 103, Level = LogLevel.Information, Message = "Sources stopped after {Seconds:F1} s; draining the {Buffered} lines in the main buffer")]
    private static partial void LogSourcesStopped(ILogger logger, double seconds, int buffered);

    [LoggerMessage(EventId = 101, Level = LogLevel.Information, Message = "Stopping: closing sources, draining (deadline {Seconds} s)")]
    private static partial void LogStopping(ILogger logger, double seconds);
}
