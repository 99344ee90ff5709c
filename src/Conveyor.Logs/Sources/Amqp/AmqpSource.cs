using System.Globalization;
using System.Threading.Channels;
using Conveyor.Logs.Amqp;
using Conveyor.Logs.Diagnostics;
using Conveyor.Logs.Configuration;
using Conveyor.Logs.Model;
using Microsoft.Extensions.Logging;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;

namespace Conveyor.Logs.Sources.Amqp;

/// <summary>
/// <c>amqp://…</c> as a source (a worker): a competing consumer of the queue with manual acknowledgements and a
/// prefetch window. Each message is split into its records (<see cref="RecordReader.Split"/>), which enter the main
/// buffer as one all-or-nothing write carrying one <see cref="Acknowledgement"/> with a reference per record; the
/// message is acknowledged to the broker only when that acknowledgement fires, i.e. when every sink committed (or
/// dead-lettered) every record of it.
/// </summary>
/// <remarks>
/// <para>Back-pressure: a full main buffer holds the delivery handler, and the broker sends no more than the
/// prefetch window of unacknowledged messages, so a slow worker leaves the rest in the queue for the others.</para>
/// <para>Outcomes: delivered or dead-lettered (the dead letters were stored) → ack; dropped by a full policy →
/// nack with requeue, so another attempt (here or on another worker) gets it, up to the queue's delivery limit;
/// failed for good in a sink → nack without requeue, which sends the message to the dead-letter exchange
/// <c>QUEUE.dead</c> (kept, not lost). A message whose body cannot be split (bad headers, an unknown encoding version,
/// a truncated record) is rejected to the dead-letter exchange at once and counted in <see cref="Poison"/>; the
/// others flow on. On a stream queue, which has no dead-lettering, such a message is counted and acknowledged.</para>
/// <para>A worker that dies (or a connection lost) leaves its unacknowledged messages to the broker, which delivers
/// them again, here after reconnection or to another worker: the records keep the edge's ids, so idempotent stores
/// keep one copy. Acknowledgements for deliveries of a lost connection are not sent (their tags are void; the broker
/// has requeued those messages).</para>
/// </remarks>
public sealed partial class AmqpSource : LogSource, ILinkStatusSource
{
    private readonly AmqpSettings _settings;
    private readonly Channel<Settlement> _settlements = Channel.CreateUnbounded<Settlement>(new UnboundedChannelOptions { SingleReader = true });
    private readonly SemaphoreSlim _delivering = new(1, 1);
    private AmqpLink? _link;
    private IChannel? _channel;
    private string? _consumerTag;
    private Task _settler = Task.CompletedTask;
    private long _unacknowledged;
    private long _messages;
    private long _poison;
    private long _acked;
    private long _requeued;
    private long _rejected;
    private long _stale;

    /// <summary>Creates the source; <see cref="LogSource.StartAsync"/> connects and starts consuming.</summary>
    /// <exception cref="FormatException">The source's URI is not a valid <c>amqp://</c> address.</exception>
    public AmqpSource(SourceOptions options, SourceInfo info, Pipeline.LineIntake output, ILogger logger, TimeProvider time)
        : base(options, info, output, logger, time)
    {
        _settings = AmqpSettings.Parse(options.Uri ?? throw new ArgumentException("an amqp source needs its uri", nameof(options)));
        info.Link = this;
    }

    /// <summary>Messages delivered so far.</summary>
    public long Messages => Interlocked.Read(ref _messages);

    /// <summary>Messages that could not be split into records and went to the dead-letter exchange.</summary>
    public long Poison => Interlocked.Read(ref _poison);

    /// <summary>Messages acknowledged to the broker.</summary>
    public long Acknowledged => Interlocked.Read(ref _acked);

    /// <summary>Messages handed back to the broker for another attempt (dropped, or not admitted at the drain deadline).</summary>
    public long Requeued => Interlocked.Read(ref _requeued);

    /// <summary>Messages a sink failed for good, sent to the dead-letter exchange.</summary>
    public long Rejected => Interlocked.Read(ref _rejected);

    /// <summary>Outcomes not sent because the connection their delivery came on was lost (the broker redelivers those).</summary>
    public long Stale => Interlocked.Read(ref _stale);

    /// <inheritdoc />
    public LinkStatus GetLinkStatus() =>
        _link?.Status(Interlocked.Read(ref _unacknowledged), _settings.Prefetch) ?? new LinkStatus("connecting", _settings.Display, 0, _settings.Prefetch, 0, null);

    /// <summary>
    /// What to do with a message whose records ended with <paramref name="outcome"/>: true to acknowledge it, false
    /// to reject it; <paramref name="requeue"/> says whether a rejected message goes back to the queue.
    /// </summary>
    public static bool ShouldAcknowledge(DeliveryOutcome outcome, out bool requeue)
    {
        requeue = outcome == DeliveryOutcome.Dropped;
        return outcome is DeliveryOutcome.Delivered or DeliveryOutcome.DeadLettered;
    }

    /// <inheritdoc />
    protected override async Task BindAsync(CancellationToken cancellationToken)
    {
        _link = await AmqpLink.OpenAsync(_settings, "conveyor worker " + Info.Name, Logger, cancellationToken).ConfigureAwait(false);
        try
        {
            _channel = await _link.Connection.CreateChannelAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            await _link.DeclareAsync(_channel, cancellationToken).ConfigureAwait(false);
            await _channel.BasicQosAsync(0, _settings.Prefetch, global: false, cancellationToken).ConfigureAwait(false);
            var consumer = new AsyncEventingBasicConsumer(_channel);
            consumer.ReceivedAsync += OnDeliveryAsync;
            var arguments = _settings.QueueType == AmqpQueueType.Stream ? new Dictionary<string, object?> { ["x-stream-offset"] = _settings.StreamOffset } : null;
            _settler = Task.Run(SettleAsync, CancellationToken.None);
            _consumerTag = await _channel.BasicConsumeAsync(_settings.Queue, autoAck: false, consumerTag: string.Empty, noLocal: false, exclusive: false, arguments, consumer, cancellationToken).ConfigureAwait(false);
            LogConsuming(Logger, Info.Name, _settings.Display, _settings.Prefetch);
        }
        catch (Exception ex) when (ex is OperationInterruptedException or AlreadyClosedException)
        {
            await _link.DisposeAsync().ConfigureAwait(false);
            throw new AmqpException($"cannot consume from {_settings.Display}: {AmqpLink.Describe(ex)}", ex);
        }
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

        // Stop taking deliveries; one already inside the handler finishes putting its records into the buffer (or
        // gives up at the drain deadline), so every record read reaches the pipeline. Deliveries the client still
        // holds are never acknowledged, and the broker requeues them when the channel closes.
        try
        {
            if (_channel is { IsOpen: true } channel && _consumerTag is { } tag)
            {
                await channel.BasicCancelAsync(tag, noWait: false, CancellationToken.None).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is OperationInterruptedException or AlreadyClosedException or TimeoutException)
        {
        }

        await _delivering.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        _delivering.Release();
    }

    /// <inheritdoc />
    protected override async ValueTask OnDisposedAsync()
    {
        // The drain has run by now: the outcomes it produced are queued; send them, then close.
        _settlements.Writer.TryComplete();
        await _settler.ConfigureAwait(false);
        if (_channel is not null)
        {
            try
            {
                await _channel.CloseAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is AlreadyClosedException or OperationInterruptedException or IOException or TimeoutException)
            {
            }

            _channel.Dispose();
        }

        if (_link is not null)
        {
            await _link.DisposeAsync().ConfigureAwait(false);
        }

        _delivering.Dispose();
    }

    private async Task OnDeliveryAsync(object sender, BasicDeliverEventArgs delivery)
    {
        var generation = _link!.Generation;
        await _delivering.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            if (StopReading.IsCancellationRequested)
            {
                return;
            }

            Interlocked.Increment(ref _messages);
            Interlocked.Increment(ref _unacknowledged);
            var lines = Split(delivery, out var problem);
            if (lines is null)
            {
                Interlocked.Increment(ref _poison);
                LogPoison(Logger, Info.Name, delivery.BasicProperties.MessageId ?? delivery.DeliveryTag.ToString(CultureInfo.InvariantCulture), problem!);
                Settle(new Settlement(delivery.DeliveryTag, generation, Poison: true, default));
                return;
            }

            var tag = delivery.DeliveryTag;
            var ack = Acknowledgement.Create(lines.Length, outcome => Settle(new Settlement(tag, generation, Poison: false, outcome)));
            Info.OnReceived(lines.Length);
            try
            {
                if (await Output.WriteAllAsync(Attach(lines, ack), Abandon).ConfigureAwait(false))
                {
                    Info.OnAdmitted(lines.Length);
                }
                else
                {
                    // Refused by the buffer's own policy (counted there, and its OnDropped completed each line's
                    // reference as dropped): the message is requeued for another try.
                    Info.OnRefused(lines.Length);
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or BufferCompletedException)
            {
                // The drain deadline passed (or the pipeline closed) before there was room: nothing was admitted, and the
                // message goes back to the queue.
                Info.OnRefused(lines.Length);
                ack.Complete(DeliveryOutcome.Dropped, lines.Length);
            }
        }
        finally
        {
            _delivering.Release();
        }
    }

    /// <summary>
    /// Drops the connection at once without acknowledging anything, as a killed process would (tests): the broker
    /// requeues every unacknowledged message, and outcomes that arrive later are not sent.
    /// </summary>
    internal async Task CrashAsync()
    {
        if (_link is not null)
        {
            await _link.Connection.AbortAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Sees each message's acknowledgement as it is created (tests complete it as the sinks would).</summary>
    internal Action<Acknowledgement>? AcknowledgementCreated { get; set; }

    /// <summary>Hands the message's acknowledgement to its records, one reference each; the sinks complete them.</summary>
    private RawLine[] Attach(RawLine[] lines, Acknowledgement ack)
    {
        AcknowledgementCreated?.Invoke(ack);
        for (var i = 0; i < lines.Length; i++)
        {
            lines[i] = lines[i] with { Ack = ack };
        }

        return lines;
    }

    private RawLine[]? Split(BasicDeliverEventArgs delivery, out string? problem)
    {
        var headers = delivery.BasicProperties.Headers;
        var version = AmqpHeaders.ReadInt(headers, AmqpHeaders.Encoding);
        if (version != AmqpHeaders.EncodingVersion)
        {
            problem = version is null ? $"no {AmqpHeaders.Encoding} header (not a Conveyor message?)" : $"unsupported {AmqpHeaders.Encoding} {version} (this worker reads {AmqpHeaders.EncodingVersion})";
            return null;
        }

        if (AmqpHeaders.ReadInt(headers, AmqpHeaders.Count) is not { } count || count is < 1 or > 1_000_000)
        {
            problem = $"{AmqpHeaders.Count} header missing or out of range";
            return null;
        }

        var body = delivery.Body.Span;
        try
        {
            var slices = RecordReader.Split(body, (int)count);
            var now = Time.GetUtcNow();
            var lines = new RawLine[slices.Count];
            for (var i = 0; i < slices.Count; i++)
            {
                var s = slices[i];

                // The body belongs to the client only for the duration of this handler: each record gets its own copy.
                lines[i] = new RawLine(body.Slice(s.Start, s.Length).ToArray(), Info, s.Id, now);
            }

            problem = null;
            return lines;
        }
        catch (FormatException ex)
        {
            problem = ex.Message;
            return null;
        }
    }

    private void Settle(Settlement settlement)
    {
        // Runs on whichever thread completed the last record (a sink writer): only queue the decision.
        _settlements.Writer.TryWrite(settlement);
    }

    private async Task SettleAsync()
    {
        await foreach (var s in _settlements.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            Interlocked.Decrement(ref _unacknowledged);
            var channel = _channel;
            if (channel is null || s.Generation != _link!.Generation)
            {
                Interlocked.Increment(ref _stale);
                continue;
            }

            try
            {
                if (s.Poison)
                {
                    if (_settings.QueueType == AmqpQueueType.Stream)
                    {
                        await channel.BasicAckAsync(s.Tag, multiple: false).ConfigureAwait(false);
                    }
                    else
                    {
                        await channel.BasicRejectAsync(s.Tag, requeue: false).ConfigureAwait(false);
                    }
                }
                else if (ShouldAcknowledge(s.Outcome, out var requeue))
                {
                    await channel.BasicAckAsync(s.Tag, multiple: false).ConfigureAwait(false);
                    Interlocked.Increment(ref _acked);
                }
                else
                {
                    await channel.BasicNackAsync(s.Tag, multiple: false, requeue).ConfigureAwait(false);
                    Interlocked.Increment(ref requeue ? ref _requeued : ref _rejected);
                }
            }
            catch (Exception ex) when (ex is AlreadyClosedException or OperationInterruptedException or IOException)
            {
                // The connection went while settling: the broker requeues the message and delivers it again.
                Interlocked.Increment(ref _stale);
                LogSettleFailed(Logger, Info.Name, AmqpLink.Describe(ex));
            }
        }
    }

    private readonly record struct Settlement(ulong Tag, long Generation, bool Poison, DeliveryOutcome Outcome);

    [LoggerMessage(EventId = 3321, Level = LogLevel.Information, Message = "Source {Source} consuming from {Broker} (prefetch {Prefetch} messages)")]
    private static partial void LogConsuming(ILogger logger, string source, string broker, int prefetch);

    [LoggerMessage(EventId = 3322, Level = LogLevel.Warning, Message = "Source {Source}: message {Message} cannot be decoded, sent to the dead-letter exchange: {Reason}")]
    private static partial void LogPoison(ILogger logger, string source, string message, string reason);

    [LoggerMessage(EventId = 3323, Level = LogLevel.Debug, Message = "Source {Source}: an acknowledgement was not sent: {Reason}")]
    private static partial void LogSettleFailed(ILogger logger, string source, string reason);
}
