using Conveyor.Logs.Amqp;
using Conveyor.Logs.Diagnostics;
using Conveyor.Logs.Model;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace Conveyor.Logs.Sinks.Amqp;

/// <summary>
/// <c>amqp://…</c> as a sink (an edge): publishes each batch as messages of up to <see cref="AmqpSettings.BatchSize"/>
/// records (<see cref="RecordWriter"/>'s encoding) with publisher confirms, at most <see cref="AmqpSettings.Window"/>
/// unconfirmed at once; a write returns only when the broker confirmed every message of it, so what the pipeline
/// counts as stored is on the broker's disk.
/// </summary>
/// <remarks>
/// <para>Headers of each message: <c>conveyor-count</c> (records), <c>conveyor-format</c> (<c>events</c>,
/// <c>raw</c> or <c>dead-letters</c>), <c>conveyor-source</c> (the sources of its records, comma-separated) and
/// <c>conveyor-encoding</c> (1). Messages are persistent and mandatory: a message no queue takes is an error, not a
/// silent loss.</para>
/// <para>Any failure (broker down, connection lost with messages unconfirmed, a nack, a return) is a transient
/// <see cref="SinkException"/>: the <see cref="ResilientSink"/> around it retries the whole batch with back-off while
/// the link reconnects, and the pipeline behind it fills and pushes back on senders. A retried batch may publish some
/// records twice; their ids are the edge's, so the workers' idempotent stores keep one copy.</para>
/// </remarks>
public sealed partial class AmqpSink : ILogSink, ILinkStatusSource
{
    private const string ContentType = "application/vnd.conveyor.records";
    private readonly AmqpLink _link;
    private readonly IChannel _channel;
    private readonly RecordWriter _writer = new();
    private readonly Queue<Task> _pending;
    private readonly ILogger _logger;
    private long _unconfirmed;
    private long _published;

    private AmqpSink(AmqpLink link, IChannel channel, ILogger logger)
    {
        _link = link;
        _channel = channel;
        _logger = logger;
        _pending = new Queue<Task>(link.Settings.Window);
    }

    /// <inheritdoc />
    public string Name => "amqp";

    /// <summary>The settings from the URI.</summary>
    public AmqpSettings Settings => _link.Settings;

    /// <summary>Messages the broker confirmed since the sink opened.</summary>
    public long Published => Interlocked.Read(ref _published);

    /// <summary>Connects, opens a channel with publisher confirms and declares the queues.</summary>
    /// <exception cref="SinkException">The broker cannot be reached or refused the declaration; the message says which.</exception>
    public static async Task<AmqpSink> OpenAsync(AmqpSettings settings, ILogger? logger = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        logger ??= NullLogger.Instance;
        AmqpLink? link = null;
        try
        {
            link = await AmqpLink.OpenAsync(settings, "conveyor edge", logger, cancellationToken).ConfigureAwait(false);

            // The client tracks confirms itself and completes each publish when its confirm arrives; no rate limiter:
            // the window below is the bound (the client's limiter throttles at half its permits, see BENCHMARKS).
            var channel = await link.Connection.CreateChannelAsync(
                new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true, outstandingPublisherConfirmationsRateLimiter: null),
                cancellationToken).ConfigureAwait(false);
            await link.DeclareAsync(channel, cancellationToken).ConfigureAwait(false);
            return new AmqpSink(link, channel, logger);
        }
        catch (Exception ex) when (ex is AmqpException or OperationInterruptedException or AlreadyClosedException)
        {
            if (link is not null)
            {
                await link.DisposeAsync().ConfigureAwait(false);
            }

            throw new SinkException("amqp: " + ex.Message, isTransient: false, ex);
        }
    }

    /// <inheritdoc />
    public ValueTask WriteBatchAsync(IReadOnlyList<LogEvent> batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        return Settings.Format == AmqpRecordFormat.Raw
            ? PublishAsync(batch, "raw", static (w, e) => w.WriteRaw(e.Id, e.Source, e.ObservedTimestamp, e.Body), static e => e.Source, cancellationToken)
            : PublishAsync(batch, "events", static (w, e) => w.WriteEvent(e), static e => e.Source, cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask WriteDeadLettersAsync(IReadOnlyList<DeadLetter> batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        return PublishAsync(batch, "dead-letters", static (w, d) => w.WriteDeadLetter(d), static d => d.Source, cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask<SinkHealth> CheckHealthAsync(CancellationToken cancellationToken) =>
        ValueTask.FromResult(_link.IsUp ? SinkHealth.Healthy : SinkHealth.Unhealthy($"amqp link {_link.Status(0, 0).State}: {Settings.Display}"));

    /// <inheritdoc />
    public LinkStatus GetLinkStatus() => _link.Status(Interlocked.Read(ref _unconfirmed), Settings.Window);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        try
        {
            await _channel.CloseAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is AlreadyClosedException or OperationInterruptedException or IOException or TimeoutException)
        {
        }

        _channel.Dispose();
        await _link.DisposeAsync().ConfigureAwait(false);
    }

    private async ValueTask PublishAsync<T>(IReadOnlyList<T> batch, string format, Action<RecordWriter, T> write, Func<T, string> sourceOf, CancellationToken cancellationToken)
    {
        if (batch.Count == 0)
        {
            return;
        }

        var size = Settings.BatchSize;
        var sources = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            for (var start = 0; start < batch.Count; start += size)
            {
                var end = Math.Min(batch.Count, start + size);
                _writer.Reset();
                sources.Clear();
                for (var i = start; i < end; i++)
                {
                    write(_writer, batch[i]);
                    sources.Add(sourceOf(batch[i]));
                }

                var properties = new BasicProperties
                {
                    Persistent = true,
                    ContentType = ContentType,
                    AppId = "conveyor",
                    Headers = new Dictionary<string, object?>
                    {
                        [AmqpHeaders.Count] = _writer.Count,
                        [AmqpHeaders.Format] = format,
                        [AmqpHeaders.Source] = string.Join(',', sources),
                        [AmqpHeaders.Encoding] = AmqpHeaders.EncodingVersion,
                    },
                };

                // Each message owns its body: the publish may still be serialising it when the writer is reused.
                var body = _writer.Written.ToArray();
                if (_pending.Count >= Settings.Window)
                {
                    await ConfirmOldestAsync().ConfigureAwait(false);
                }

                Interlocked.Increment(ref _unconfirmed);
                _pending.Enqueue(_channel.BasicPublishAsync(string.Empty, Settings.Queue, mandatory: true, properties, body, cancellationToken).AsTask());
            }

            while (_pending.Count > 0)
            {
                await ConfirmOldestAsync().ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // A publish that failed leaves the others of the batch to settle (or fail) on their own; the whole batch is
            // retried, so none of them can be counted as stored.
            await DrainPendingAsync().ConfigureAwait(false);
            LogPublishFailed(_logger, Settings.Display, AmqpLink.Describe(ex));
            throw new SinkException($"amqp: publishing to {Settings.Display} failed: {AmqpLink.Describe(ex)}", isTransient: true, ex);
        }
        finally
        {
            _pending.Clear();
            Interlocked.Exchange(ref _unconfirmed, 0);
        }
    }

    private async Task ConfirmOldestAsync()
    {
        // Dequeued before the await, so a failing confirm is not awaited again by DrainPendingAsync.
        var oldest = _pending.Dequeue();
        await oldest.ConfigureAwait(false);
        Interlocked.Decrement(ref _unconfirmed);
        Interlocked.Increment(ref _published);
    }

    private async Task DrainPendingAsync()
    {
        while (_pending.TryDequeue(out var confirm))
        {
            try
            {
                await confirm.ConfigureAwait(false);
            }
            catch (Exception)
            {
                // Already reported through the first failure.
            }
        }
    }

    [LoggerMessage(EventId = 3311, Level = LogLevel.Warning, Message = "Publishing to {Broker} failed, the batch will be retried: {Reason}")]
    private static partial void LogPublishFailed(ILogger logger, string broker, string reason);
}
