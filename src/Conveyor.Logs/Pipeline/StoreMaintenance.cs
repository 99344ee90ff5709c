using Conveyor.Logs.Sinks;
using Microsoft.Extensions.Logging;

namespace Conveyor.Logs.Pipeline;

/// <summary>
/// Runs each store's maintenance (<see cref="ILogRetention.ApplyRetentionAsync"/>: retention by age and size, and on
/// PostgreSQL the indexing of closed days) at start-up and then every <see cref="RetentionSettings.Interval"/> of its
/// sink, on the injected clock. A failed run is logged and tried again at the next interval; what a run deletes is
/// logged. Sinks whose store has no maintenance (NDJSON, <c>null:</c>) are skipped.
/// </summary>
/// <remarks>Each store's runs are sequential (one loop per store), and the store serialises them with its writes.</remarks>
public sealed partial class StoreMaintenance : IAsyncDisposable
{
    private readonly List<(TopologySink Sink, ILogRetention Store)> _stores = [];
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _loops = [];
    private long _runs;
    private int _disposed;

    /// <summary>Finds the stores among <paramref name="sinks"/> that have maintenance; <see cref="Start"/> starts it.</summary>
    public StoreMaintenance(IEnumerable<TopologySink> sinks, ILogger logger, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(sinks);
        ArgumentNullException.ThrowIfNull(logger);
        _logger = logger;
        _time = timeProvider ?? TimeProvider.System;
        foreach (var sink in sinks)
        {
            if (SinkChain.Find<ILogRetention>(sink.Sink) is { } store)
            {
                _stores.Add((sink, store));
            }
        }
    }

    /// <summary>Maintenance runs completed (successful or not), over all stores.</summary>
    public long Runs => Interlocked.Read(ref _runs);

    /// <summary>Starts one loop per store; the first run happens now.</summary>
    public void Start()
    {
        foreach (var (sink, store) in _stores)
        {
            var r = sink.Options.Retention;
            LogScheduled(_logger, sink.Name, r.Interval, r.MaxAge?.ToString() ?? "none", r.MaxBytes?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none");
            _loops.Add(Task.Run(() => LoopAsync(sink, store, _stop.Token)));
        }
    }

    /// <summary>Stops the loops, waiting for a run in progress to see its cancellation.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_loops).ConfigureAwait(false);
        _stop.Dispose();
    }

    private async Task LoopAsync(TopologySink sink, ILogRetention store, CancellationToken ct)
    {
        try
        {
            while (!ct.IsCancellationRequested)
            {
                await RunOnceAsync(sink.Name, store, ct).ConfigureAwait(false);
                await Task.Delay(sink.Options.Retention.Interval, _time, ct).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Stopping: a run or a wait was cut short, nothing is half done (each deletion is its own transaction).
        }
    }

    private async Task RunOnceAsync(string name, ILogRetention store, CancellationToken ct)
    {
        try
        {
            var result = await store.ApplyRetentionAsync(ct).ConfigureAwait(false);
            if (result.Events + result.DeadLetters + result.Partitions > 0)
            {
                LogDeleted(_logger, name, result.Events, result.DeadLetters, result.Partitions);
            }
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            LogFailed(_logger, name, e.Message, e);
        }
        finally
        {
            Interlocked.Increment(ref _runs);
        }
    }

    [LoggerMessage(EventId = 2201, Level = LogLevel.Information, Message = "Store maintenance for sink {Sink} every {Interval}: retention maxAge {MaxAge}, maxBytes {MaxBytes}")]
    private static partial void LogScheduled(ILogger logger, string sink, TimeSpan interval, string maxAge, string maxBytes);

    [LoggerMessage(EventId = 2202, Level = LogLevel.Information, Message = "Retention on sink {Sink} deleted {Events} events, {DeadLetters} dead letters and {Partitions} day partitions")]
    private static partial void LogDeleted(ILogger logger, string sink, long events, long deadLetters, long partitions);

    [LoggerMessage(EventId = 2203, Level = LogLevel.Warning, Message = "Store maintenance for sink {Sink} failed, trying again at the next interval: {Error}")]
    private static partial void LogFailed(ILogger logger, string sink, string error, Exception exception);
}
