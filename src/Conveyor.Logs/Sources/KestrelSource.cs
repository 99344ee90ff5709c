using System.Globalization;
using System.Net;
using Conveyor.Logs.Configuration;
using Conveyor.Logs.Model;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Conveyor.Logs.Sources;

/// <summary>
/// A source that speaks a protocol over HTTP on a listener of its own (OTLP/HTTP, OTLP/gRPC, the Elasticsearch bulk
/// API): a small Kestrel server bound at <see cref="LogSource.StartAsync"/> (a taken port fails the start) and
/// stopped gracefully at <see cref="LogSource.StopAsync(CancellationToken)"/>, so a request already being admitted still finishes.
/// </summary>
/// <remarks>
/// From the moment the stop begins, <see cref="IsStopping"/> is true and handlers answer "unavailable, retry" instead
/// of admitting more. Record ids are <c>source:start-epoch-ms:request#:record#</c>: the start time keeps them unique
/// across restarts (the stores are idempotent by id), the request number is <see cref="NextRequestPrefix"/>'s.
/// </remarks>
public abstract class KestrelSource : LogSource
{
    private readonly MainBufferView _main;
    private readonly string _idPrefix;
    private WebApplication? _app;
    private long _requests;

    /// <summary>Creates the source; <paramref name="main"/> tells it the main buffer's bounds and how long a refused sender should wait.</summary>
    protected KestrelSource(SourceOptions options, SourceInfo info, Pipeline.LineIntake output, ILogger logger, TimeProvider time, MainBufferView main)
        : base(options, info, output, logger, time)
    {
        ArgumentNullException.ThrowIfNull(main);
        _main = main;
        Bodies = new Http.BodyBudget(options.MaxBodyBytesInFlight);
        _idPrefix = info.Name + ":" + time.GetUtcNow().ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture) + ":";
    }

    /// <summary>The port actually bound (differs from the configured one only when that was 0).</summary>
    public int BoundPort { get; private set; }

    /// <summary>True once the source began to stop: requests are answered "unavailable" from then on.</summary>
    public bool IsStopping => StopReading.IsCancellationRequested;

    /// <summary>Seconds a sender refused for a full buffer should wait, from the measured drain rate.</summary>
    public int RetryAfterSeconds => _main.RetryAfterSeconds();

    /// <summary>The most records the main buffer holds: a request with more can never be admitted.</summary>
    public int MainCapacity => _main.Capacity;

    /// <summary>The most bytes the main buffer holds; null when unbounded.</summary>
    public long? MainMaxBytes => _main.MaxBytes;

    /// <summary>The settings the handlers apply (token, size limits, block timeout).</summary>
    public SourceOptions Settings => Options;

    /// <summary>The bytes of request bodies this source holds at once (<see cref="SourceOptions.MaxBodyBytesInFlight"/>), as <c>/ingest</c> does.</summary>
    public Http.BodyBudget Bodies { get; }

    /// <summary>The main buffer's writer.</summary>
    public Pipeline.LineIntake Writer => Output;

    /// <summary>The clock.</summary>
    public TimeProvider Clock => Time;

    /// <summary>The HTTP protocols the listener speaks. Default HTTP/1.1 and HTTP/2.</summary>
    protected virtual HttpProtocols Protocols => HttpProtocols.Http1AndHttp2;

    /// <summary>
    /// Called with each request's acknowledgement as soon as its records were offered to the buffer (not called for a
    /// request with none), before the answer; tests watch what becomes of a request through it.
    /// </summary>
    internal Action<Acknowledgement>? AcknowledgementCreated { get; set; }

    /// <summary>Hands a request's acknowledgement to <see cref="AcknowledgementCreated"/>.</summary>
    internal void OnRequestAcknowledgement(Acknowledgement? ack)
    {
        if (ack is not null)
        {
            AcknowledgementCreated?.Invoke(ack);
        }
    }

    /// <summary>The id prefix of the next request's records: <c>source:start-epoch-ms:request#:</c>.</summary>
    public string NextRequestPrefix() =>
        _idPrefix + Interlocked.Increment(ref _requests).ToString(CultureInfo.InvariantCulture) + ":";

    /// <summary>Adds the services the endpoints need (e.g. gRPC).</summary>
    protected virtual void ConfigureServices(IServiceCollection services)
    {
    }

    /// <summary>Maps the protocol's endpoints.</summary>
    protected abstract void MapEndpoints(WebApplication app);

    /// <inheritdoc />
    protected override async Task BindAsync(CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = HostArguments.Create() });

        // The server's own logs (connection resets, bad framing) are the sender's problem, not the service's: the
        // handlers answer and count what matters.
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;

            // Handlers enforce the source's own limit, also after decompression; Kestrel's global limit stays off so it can
            // drain an unread body after an early 413 instead of resetting a client that is still sending.
            k.Limits.MaxRequestBodySize = null;
            var address = string.Equals(Options.Host, "localhost", StringComparison.OrdinalIgnoreCase) ? IPAddress.Loopback : IPAddress.Parse(Options.Host);
            k.Listen(address, Options.Port, l => l.Protocols = Protocols);
        });
        builder.Services.AddSingleton(this.GetType(), this);
        ConfigureServices(builder.Services);
        var app = builder.Build();

        // Every endpoint, whatever it answered (401 before reading, 429 over the body budget, 413, 503), reads what is
        // left of the request's body after its answer: a client still sending then gets the answer, not a reset.
        app.Use(async (context, next) =>
        {
            await next(context).ConfigureAwait(false);
            await HttpIntake.DiscardUnreadAsync(context, Options.MaxBodyBytes).ConfigureAwait(false);
        });
        MapEndpoints(app);
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        _app = app;
        BoundPort = app.Urls.Select(static u => new Uri(u.Replace("*", "localhost", StringComparison.Ordinal)).Port).FirstOrDefault(Options.Port);
    }

    /// <inheritdoc />
    protected override async Task RunAsync()
    {
        try
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, Time, StopReading).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        if (_app is { } app)
        {
            // Requests in flight finish (their records are admitted or refused) unless the drain deadline passes first.
            await app.StopAsync(Abandon).ConfigureAwait(false);
            await app.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Sets <c>Retry-After</c> on a response.</summary>
    protected static void SetRetryAfter(HttpResponse response, int seconds)
    {
        ArgumentNullException.ThrowIfNull(response);
        response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
    }
}

/// <summary>What a source that answers each request needs to know of the main buffer.</summary>
/// <param name="Capacity">Its count bound.</param>
/// <param name="MaxBytes">Its byte bound; null when none.</param>
/// <param name="RetryAfterSeconds">How long a refused sender should wait (from the measured drain rate).</param>
public sealed record MainBufferView(int Capacity, long? MaxBytes, Func<int> RetryAfterSeconds)
{
    /// <summary>No bounds known: every request may fit, and a refused sender is told to wait 1 s.</summary>
    public static MainBufferView Unknown { get; } = new(int.MaxValue, null, static () => 1);
}
