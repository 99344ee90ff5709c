using System.Net;
using Conveyor.Cli.Http;
using Conveyor.Diagnostics;
using Conveyor.Logs.Configuration;
using Conveyor.Logs.Pipeline;
using Conveyor.Logs.Query;
using Conveyor.Logs.Sinks;
using Microsoft.Extensions.Logging.Console;
using OpenTelemetry.Metrics;

namespace Conveyor.Cli.Hosting;

/// <summary>
/// Builds and runs the host of <c>conveyor run</c>: Kestrel when there is an HTTP source (its listener also serves
/// the operational endpoints), a plain generic host otherwise. All logs go to stderr, so stdout carries only data
/// (<c>--to ndjson:-</c>). SIGTERM/SIGINT stop the host, which drains the pipeline (see <see cref="PipelineService"/>).
/// </summary>
internal static class ServiceHost
{
    /// <summary>The .NET runtime's built-in meter (.NET 9 and later), exported on <c>/metrics</c> beside Conveyor's.</summary>
    internal const string RuntimeMeter = "System.Runtime";

    /// <summary>Thread-pool workers the pool starts at once when work waits (see <see cref="ReserveThreadPoolThreads"/>).</summary>
    internal const int MinWorkerThreads = 8;

    /// <summary>
    /// Raises the thread pool's minimum of workers (the processor count) to <see cref="MinWorkerThreads"/>. The
    /// pipeline's workers (sources, parse workers, each sink's preparations and writes) hold pool threads for a batch at
    /// a time, tens of milliseconds; with as many threads as cores a request to <c>/health</c>, <c>/api/search</c> or
    /// the ingest endpoint waited in the pool's queue behind them until a batch ended or the pool's starvation
    /// detection added a thread. Below the minimum the pool adds a thread at once instead, and the OS shares the cores
    /// among them. Measured on 2 cores while the store took 230k lines/s (docs/BENCHMARKS.md, "Searches before writes"):
    /// <c>/health</c> median 22–23 → 3 ms and p90 82–93 → 13 ms, a field filter's newest 100 p90 133 → 64 ms (16
    /// threads: 49–52 ms, but 0.40–0.43 cores at the seed rate against 0.35–0.38 with 8). Idle workers sleep (no
    /// spinning: <c>UnfairSemaphoreSpinLimit</c> is 0). A larger minimum (more cores, or
    /// DOTNET_ThreadPool_ForceMinWorkerThreads) is kept.
    /// </summary>
    internal static void ReserveThreadPoolThreads()
    {
        ThreadPool.GetMinThreads(out var workers, out var io);
        if (workers < MinWorkerThreads)
        {
            ThreadPool.SetMinThreads(MinWorkerThreads, io);
        }
    }

    /// <summary>
    /// Runs until stopped; returns the process exit code: 0 after a clean drain, 2 when a store cannot be used (it
    /// cannot be opened, is damaged, or refuses its settings: the log names it and why), 1 when the start failed otherwise.
    /// </summary>
    public static async Task<int> RunAsync(PipelineOptions options, Action<IServiceProvider, PipelineService>? onStarted = null, LogLevel minimumLevel = LogLevel.Information)
    {
        ReserveThreadPoolThreads();
        var http = options.Sources.Where(static s => s.Type == SourceType.Http).ToList();
        IHost host;
        if (http.Count > 0)
        {
            var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = HostArguments.Create() });
            Configure(builder.Services, builder.Logging, options, minimumLevel);
            builder.WebHost.ConfigureKestrel(k =>
            {
                k.AddServerHeader = false;
                // The ingest endpoint enforces each source's own limit (and the limit after gzip). Kestrel's global limit
                // stays off so that, after an early 413, it can drain the unread body instead of resetting the connection
                // under a client that is still sending (Kestrel bounds that drain by time).
                k.Limits.MaxRequestBodySize = null;
                foreach (var s in http)
                {
                    var address = string.Equals(s.Host, "localhost", StringComparison.OrdinalIgnoreCase) ? IPAddress.Loopback : IPAddress.Parse(s.Host);
                    k.Listen(address, s.Port);
                }
            });
            // The runtime's own meter beside Conveyor's: GC collections, heap and allocated bytes, thread-pool queue and
            // threads, which say whether a slow pipeline is waiting on the collector or the pool.
            builder.Services.AddOpenTelemetry().WithMetrics(m => m.AddMeter(MetricNames.Meter, RuntimeMeter).AddPrometheusExporter());
            var app = builder.Build();
            app.MapPrometheusScrapingEndpoint("/metrics");
            AdminEndpoints.Map(app, app.Services.GetRequiredService<PipelineService>(), AdminEndpoints.SearchStoreUri(options));
            host = app;
        }
        else
        {
            var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = HostArguments.Create(), DisableDefaults = false });
            Configure(builder.Services, builder.Logging, options, minimumLevel);
            host = builder.Build();
        }

        var service = host.Services.GetRequiredService<PipelineService>();
        var logger = host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Conveyor.Run");
        try
        {
            await host.StartAsync().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            LogStartFailed(logger, ex.Message);
            await service.DisposeAsync().ConfigureAwait(false);
            host.Dispose();
            return ex is SinkException { IsTransient: false } or ArgumentException or BufferUnavailableException ? 2 : 1;
        }

        // DuckDB admits one process per file: tell `conveyor query` in other processes where to search instead.
        var advertised = http.Count > 0 ? service.DuckDbPaths : [];
        foreach (var path in advertised)
        {
            var s = http[0];
            var host0 = s.Host is "0.0.0.0" ? "127.0.0.1" : s.Host is "::" ? "[::1]" : s.Host.Contains(':', StringComparison.Ordinal) ? $"[{s.Host}]" : s.Host;
            ServiceAdvert.Write(path, $"http://{host0}:{s.Port}");
        }

        onStarted?.Invoke(host.Services, service);
        await host.WaitForShutdownAsync().ConfigureAwait(false);
        foreach (var path in advertised)
        {
            ServiceAdvert.Remove(path);
        }

        // The container disposes the pipeline service (a singleton) with the host.
        if (host is IAsyncDisposable d)
        {
            await d.DisposeAsync().ConfigureAwait(false);
        }
        else
        {
            host.Dispose();
        }

        return 0;
    }

    private static void Configure(IServiceCollection services, ILoggingBuilder logging, PipelineOptions options, LogLevel minimumLevel)
    {
        logging.ClearProviders();
        logging.AddSimpleConsole(static o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss ";
            o.UseUtcTimestamp = true;
        });
        services.Configure<ConsoleLoggerOptions>(static o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        logging.SetMinimumLevel(minimumLevel);
        logging.AddFilter("Microsoft", LogLevel.Warning);
        logging.AddFilter("Microsoft.Hosting.Lifetime", minimumLevel);
        services.Configure<HostOptions>(o => o.ShutdownTimeout = options.Shutdown.DrainTimeout + TimeSpan.FromSeconds(15));
        services.Configure<ConsoleLifetimeOptions>(static o => o.SuppressStatusMessages = true);
        services.AddSingleton(options);
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<PipelineService>();
        services.AddHostedService(static sp => sp.GetRequiredService<PipelineService>());
    }

    private static void LogStartFailed(ILogger logger, string reason) =>
        logger.LogCritical("conveyor run could not start: {Reason}", reason);
}
