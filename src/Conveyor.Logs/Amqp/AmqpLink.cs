using Conveyor.Logs.Diagnostics;
using Microsoft.Extensions.Logging;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;

namespace Conveyor.Logs.Amqp;

/// <summary>
/// One connection to the broker, shared by what a sink or source does on it: opens it, declares Conveyor's queues,
/// and tracks its state (connected / blocked / reconnecting) for <c>/api/pipeline</c> and <c>/ready</c>.
/// </summary>
/// <remarks>
/// Reconnection is RabbitMQ.Client's automatic recovery: after a lost connection it retries every
/// <see cref="RecoveryInterval"/> and then restores the channels, the declared queues and the consumers. While it is
/// down, publishes fail at once (the sink's retry backs off and the pipeline pushes back on senders) and a worker
/// receives nothing; the broker requeues every message that was not acknowledged before the loss.
/// </remarks>
internal sealed partial class AmqpLink : IAsyncDisposable
{
    /// <summary>How often automatic recovery tries to reconnect.</summary>
    public static readonly TimeSpan RecoveryInterval = TimeSpan.FromSeconds(1);

    private readonly ILogger _logger;
    private volatile string _state = "connecting";
    private volatile string? _lastError;
    private long _reconnects;
    private long _generation;

    private AmqpLink(AmqpSettings settings, IConnection connection, ILogger logger)
    {
        Settings = settings;
        Connection = connection;
        _logger = logger;
        _state = "connected";
        connection.ConnectionShutdownAsync += OnShutdownAsync;
        connection.RecoverySucceededAsync += OnRecoveredAsync;
        connection.ConnectionRecoveryErrorAsync += OnRecoveryErrorAsync;
        connection.ConnectionBlockedAsync += OnBlockedAsync;
        connection.ConnectionUnblockedAsync += OnUnblockedAsync;
    }

    public AmqpSettings Settings { get; }

    public IConnection Connection { get; }

    /// <summary>Counts connection losses: a delivery tag is valid only in the generation it was received in.</summary>
    public long Generation => Interlocked.Read(ref _generation);

    public string State => _state;

    public bool IsUp => _state == "connected" && Connection.IsOpen;

    /// <summary>Connects; a broker that cannot be reached fails here, naming the address and the reason.</summary>
    public static async Task<AmqpLink> OpenAsync(AmqpSettings settings, string clientName, ILogger logger, CancellationToken cancellationToken)
    {
        var factory = new ConnectionFactory
        {
            Uri = settings.Broker,
            AutomaticRecoveryEnabled = true,
            TopologyRecoveryEnabled = true,
            NetworkRecoveryInterval = RecoveryInterval,
            RequestedHeartbeat = TimeSpan.FromSeconds(10),
            RequestedConnectionTimeout = TimeSpan.FromSeconds(10),
            ClientProvidedName = clientName,
        };
        try
        {
            var connection = await factory.CreateConnectionAsync(cancellationToken).ConfigureAwait(false);
            var link = new AmqpLink(settings, connection, logger);
            LogConnected(logger, settings.Display);
            return link;
        }
        catch (BrokerUnreachableException ex)
        {
            throw new AmqpException($"cannot connect to {settings.Display}: {Describe(ex)}", ex);
        }
    }

    /// <summary>
    /// Declares the queue (durable; quorum with its dead-letter exchange and delivery limit, or a stream) and, for a
    /// quorum queue, the dead-letter exchange and queue <c>QUEUE.dead</c>. Declaring again with the same arguments is
    /// a no-op, so edges and workers all declare; a queue that exists with other arguments fails the start.
    /// </summary>
    public async Task DeclareAsync(IChannel channel, CancellationToken cancellationToken)
    {
        var s = Settings;
        try
        {
            if (s.QueueType == AmqpQueueType.Stream)
            {
                await channel.QueueDeclareAsync(s.Queue, durable: true, exclusive: false, autoDelete: false, StreamArguments, cancellationToken: cancellationToken).ConfigureAwait(false);
                return;
            }

            await channel.ExchangeDeclareAsync(s.DeadLetterName, ExchangeType.Fanout, durable: true, autoDelete: false, cancellationToken: cancellationToken).ConfigureAwait(false);
            await channel.QueueDeclareAsync(s.DeadLetterName, durable: true, exclusive: false, autoDelete: false, QuorumArguments, cancellationToken: cancellationToken).ConfigureAwait(false);
            await channel.QueueBindAsync(s.DeadLetterName, s.DeadLetterName, string.Empty, cancellationToken: cancellationToken).ConfigureAwait(false);
            var arguments = new Dictionary<string, object?>(QuorumArguments)
            {
                ["x-dead-letter-exchange"] = s.DeadLetterName,
                ["x-delivery-limit"] = s.DeliveryLimit,

                // At-least-once dead-lettering: the broker keeps a message until the dead-letter queue confirmed it
                // (it requires reject-publish overflow, which only matters if a length limit is ever set).
                ["x-dead-letter-strategy"] = "at-least-once",
                ["x-overflow"] = "reject-publish",
            };
            await channel.QueueDeclareAsync(s.Queue, durable: true, exclusive: false, autoDelete: false, arguments, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (OperationInterruptedException ex)
        {
            throw new AmqpException($"cannot declare queue '{s.Queue}' on {s.Display}: {ex.ShutdownReason?.ReplyText ?? ex.Message} (a queue of that name exists with other arguments? delete it or choose another ?queue=)", ex);
        }
    }

    public LinkStatus Status(long unconfirmed, long window) =>
        new(Connection.IsOpen ? _state : _state == "closed" ? "closed" : "reconnecting", Settings.Display, unconfirmed, window, Interlocked.Read(ref _reconnects), _lastError);

    public async ValueTask DisposeAsync()
    {
        _state = "closed";
        try
        {
            await Connection.CloseAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is AlreadyClosedException or OperationInterruptedException or IOException or TimeoutException)
        {
        }

        Connection.Dispose();
    }

    internal static string Describe(Exception ex)
    {
        var inner = ex;
        while (inner.InnerException is { } next)
        {
            inner = next;
        }

        return ReferenceEquals(inner, ex) ? ex.Message : ex.Message + ": " + inner.Message;
    }

    private static readonly Dictionary<string, object?> QuorumArguments = new() { ["x-queue-type"] = "quorum" };

    private static readonly Dictionary<string, object?> StreamArguments = new() { ["x-queue-type"] = "stream" };

    private Task OnShutdownAsync(object sender, ShutdownEventArgs e)
    {
        Interlocked.Increment(ref _generation);
        if (_state == "closed")
        {
            return Task.CompletedTask;
        }

        _state = "reconnecting";
        _lastError = e.ReplyText;
        LogLost(_logger, Settings.Display, e.ReplyText);
        return Task.CompletedTask;
    }

    private Task OnRecoveredAsync(object sender, AsyncEventArgs e)
    {
        Interlocked.Increment(ref _reconnects);
        if (_state != "closed")
        {
            _state = "connected";
        }

        LogRecovered(_logger, Settings.Display);
        return Task.CompletedTask;
    }

    private Task OnRecoveryErrorAsync(object sender, ConnectionRecoveryErrorEventArgs e)
    {
        _lastError = Describe(e.Exception);
        LogRecoveryFailed(_logger, Settings.Display, _lastError);
        return Task.CompletedTask;
    }

    private Task OnBlockedAsync(object sender, ConnectionBlockedEventArgs e)
    {
        _state = "blocked";
        _lastError = "blocked: " + e.Reason;
        LogBlocked(_logger, Settings.Display, e.Reason);
        return Task.CompletedTask;
    }

    private Task OnUnblockedAsync(object sender, AsyncEventArgs e)
    {
        if (_state == "blocked")
        {
            _state = "connected";
        }

        return Task.CompletedTask;
    }

    [LoggerMessage(EventId = 3301, Level = LogLevel.Information, Message = "Connected to {Broker}")]
    private static partial void LogConnected(ILogger logger, string broker);

    [LoggerMessage(EventId = 3302, Level = LogLevel.Warning, Message = "Lost the connection to {Broker} ({Reason}); reconnecting")]
    private static partial void LogLost(ILogger logger, string broker, string reason);

    [LoggerMessage(EventId = 3303, Level = LogLevel.Information, Message = "Reconnected to {Broker}")]
    private static partial void LogRecovered(ILogger logger, string broker);

    [LoggerMessage(EventId = 3304, Level = LogLevel.Debug, Message = "Reconnecting to {Broker} failed: {Reason}")]
    private static partial void LogRecoveryFailed(ILogger logger, string broker, string reason);

    [LoggerMessage(EventId = 3305, Level = LogLevel.Warning, Message = "{Broker} blocks publishing: {Reason}")]
    private static partial void LogBlocked(ILogger logger, string broker, string reason);
}

/// <summary>The broker cannot be reached or refused what Conveyor asked of it; the message says which and why.</summary>
public sealed class AmqpException : Exception
{
    /// <summary>Creates the exception.</summary>
    public AmqpException()
    {
    }

    /// <summary>Creates the exception with <paramref name="message"/>.</summary>
    public AmqpException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with <paramref name="message"/> and its cause.</summary>
    public AmqpException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
